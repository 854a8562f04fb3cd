//! Exporting the spans of runs (`invoke_agent`, `chat`, `execute_tool`) over OTLP/HTTP with
//! protobuf bodies (feature `otlp`), to an OpenTelemetry Collector, Jaeger or any OTLP receiver.
//!
//! The collector is `--otlp URL` (its base: `/v1/traces` is appended), else the standard
//! `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` (used as it is) or `OTEL_EXPORTER_OTLP_ENDPOINT` (its
//! base); the other `OTEL_EXPORTER_OTLP_*` variables (headers, timeout, compression) apply too,
//! and the service is `OTEL_SERVICE_NAME`, default `argus`. With none of these no exporter is
//! built. Spans are batched and sent on a thread of their own; they are flushed when the command
//! ends, however it ends. A collector that cannot be reached costs one warning and at most the
//! export timeout at exit: the run itself never waits for it.

use std::sync::atomic::{AtomicBool, Ordering};

/// `--trace-contents`: record messages, tool arguments and results in the spans.
static TRACE_CONTENTS: AtomicBool = AtomicBool::new(false);

/// Sets what [`trace_contents`] returns, from `--trace-contents`.
pub(crate) fn set_trace_contents(record: bool) {
    TRACE_CONTENTS.store(record, Ordering::Relaxed);
}

/// Whether the agents this process builds record contents in their spans
/// (`AgentBuilder::trace_contents`).
pub(crate) fn trace_contents() -> bool {
    TRACE_CONTENTS.load(Ordering::Relaxed)
}

/// Where spans go, when anywhere.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Collector {
    /// `--otlp URL`: the collector's base URL.
    Flag(String),
    /// The `OTEL_EXPORTER_OTLP_*` environment variables.
    Environment,
}

impl Collector {
    /// The collector `--otlp` names, else the one the environment names, else none.
    pub(crate) fn chosen(flag: Option<&str>) -> Option<Collector> {
        if let Some(url) = flag {
            return Some(Collector::Flag(url.to_string()));
        }
        let set = |name: &str| std::env::var(name).is_ok_and(|value| !value.trim().is_empty());
        let disabled = std::env::var("OTEL_SDK_DISABLED")
            .is_ok_and(|value| value.trim().eq_ignore_ascii_case("true"));
        let named = set("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") || set("OTEL_EXPORTER_OTLP_ENDPOINT");
        (named && !disabled).then_some(Collector::Environment)
    }
}

#[cfg(feature = "otlp")]
pub(crate) use export::{layer, Exporter};

/// Without the `otlp` feature there is never an exporter.
#[cfg(not(feature = "otlp"))]
#[derive(Debug)]
pub(crate) enum Exporter {}

#[cfg(feature = "otlp")]
mod export {
    use std::fmt;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Duration;

    use argus_core::{shown_url, shown_urls_in};
    use opentelemetry::trace::TracerProvider as _;
    use opentelemetry_otlp::{Protocol, RetryPolicy, WithExportConfig as _, WithHttpConfig as _};
    use opentelemetry_sdk::error::OTelSdkResult;
    use opentelemetry_sdk::trace::{SdkTracerProvider, SpanData, SpanExporter};
    use opentelemetry_sdk::Resource;
    use tracing_subscriber::filter::Targets;
    use tracing_subscriber::Layer;

    use super::Collector;
    use crate::exit::UserError;

    /// How long one export may take when `OTEL_EXPORTER_OTLP_[TRACES_]TIMEOUT` does not say:
    /// the most a collector that does not answer can add to a command's exit.
    const TIMEOUT: Duration = Duration::from_secs(3);

    /// The span exporter of this process; dropping it sends the spans still queued and stops it.
    #[derive(Debug)]
    pub(crate) struct Exporter {
        provider: SdkTracerProvider,
    }

    impl Drop for Exporter {
        fn drop(&mut self) {
            // Export failures were already reported (once) by `WarnOnce`.
            let _ = self.provider.shutdown();
        }
    }

    /// A `tracing` layer sending the spans of Argus's crates (level INFO and up, whatever
    /// `RUST_LOG` says) to `collector`, and the exporter to keep until the command ends.
    pub(crate) fn layer<S>(
        collector: &Collector,
    ) -> anyhow::Result<(impl Layer<S> + Send + Sync + 'static, Exporter)>
    where
        S: tracing::Subscriber
            + for<'span> tracing_subscriber::registry::LookupSpan<'span>
            + Send
            + Sync,
    {
        let mut builder = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_protocol(Protocol::HttpBinary)
            // One attempt: a command's spans are sent as it ends, and a retry would hold up its
            // exit.
            .with_retry_policy(RetryPolicy::disabled());
        // The URL as given (it may hold credentials), and as it may be shown.
        let (raw, shown) = match collector {
            Collector::Flag(url) => {
                let base = url.trim_end_matches('/');
                if !(base.starts_with("http://") || base.starts_with("https://")) {
                    return Err(UserError::usage(format!(
                        "--otlp takes the http:// or https:// URL of an OTLP/HTTP collector, \
                         not `{}`",
                        shown(base)
                    ))
                    .into());
                }
                let endpoint = if base.ends_with("/v1/traces") {
                    base.to_string()
                } else {
                    format!("{base}/v1/traces")
                };
                builder = builder.with_endpoint(endpoint);
                (base.to_string(), shown(base))
            }
            Collector::Environment => {
                let url = std::env::var("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
                    .ok()
                    .filter(|url| !url.trim().is_empty())
                    .or_else(|| std::env::var("OTEL_EXPORTER_OTLP_ENDPOINT").ok())
                    .unwrap_or_default();
                let url = url.trim().to_string();
                let shown = shown(&url);
                (url, shown)
            }
        };
        let timeout_set = [
            "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
            "OTEL_EXPORTER_OTLP_TIMEOUT",
        ]
        .iter()
        .any(|name| std::env::var(name).is_ok_and(|value| !value.trim().is_empty()));
        if !timeout_set {
            builder = builder.with_timeout(TIMEOUT);
        }
        let exporter = builder.build().map_err(|error| {
            let reason = shown_urls_in(&error.to_string().replace(&raw, &shown));
            let message = format!("cannot export spans over OTLP to {shown}: {reason}");
            match collector {
                Collector::Flag(_) => anyhow::Error::from(UserError::usage(message)),
                Collector::Environment => anyhow::anyhow!(message),
            }
        })?;
        let service = std::env::var("OTEL_SERVICE_NAME")
            .ok()
            .filter(|name| !name.trim().is_empty())
            .unwrap_or_else(|| "argus".to_string());
        let resource = Resource::builder()
            .with_service_name(service)
            .with_attribute(opentelemetry::KeyValue::new(
                "service.version",
                env!("CARGO_PKG_VERSION"),
            ))
            .build();
        let provider = SdkTracerProvider::builder()
            .with_resource(resource)
            .with_batch_exporter(WarnOnce {
                inner: exporter,
                collector: shown.clone(),
                warned: AtomicBool::new(false),
            })
            .build();
        let tracer = provider.tracer("argus");
        tracing::debug!("exporting spans over OTLP to {shown}");
        // Argus's own spans only: not those of the HTTP clients, the engine or the exporter.
        let spans = Targets::new().with_target("argus", tracing::Level::INFO);
        let layer = tracing_opentelemetry::layer()
            .with_tracer(tracer)
            .with_filter(spans);
        Ok((layer, Exporter { provider }))
    }

    /// `url` without credentials, or `(an invalid URL)`: also when it is not http(s), where
    /// whatever it holds could be one.
    fn shown(url: &str) -> String {
        if url.starts_with("http://") || url.starts_with("https://") {
            shown_url(url)
        } else {
            "(an invalid URL)".to_string()
        }
    }

    /// An exporter that reports its first failure as a warning and says nothing of later ones
    /// (spans it could not send are dropped, as the SDK would).
    struct WarnOnce<E> {
        inner: E,
        /// The collector as it may be shown: no credentials.
        collector: String,
        warned: AtomicBool,
    }

    impl<E> fmt::Debug for WarnOnce<E> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.debug_struct("WarnOnce")
                .field("collector", &self.collector)
                .finish_non_exhaustive()
        }
    }

    impl<E: SpanExporter> SpanExporter for WarnOnce<E> {
        async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
            if let Err(error) = self.inner.export(batch).await {
                if !self.warned.swap(true, Ordering::Relaxed) {
                    tracing::warn!(
                        "cannot export spans to the OTLP collector {}: {}",
                        self.collector,
                        shown_urls_in(&error.to_string())
                    );
                }
            }
            Ok(())
        }

        fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
            self.inner.shutdown_with_timeout(timeout)
        }

        fn force_flush(&self) -> OTelSdkResult {
            self.inner.force_flush()
        }

        fn set_resource(&mut self, resource: &Resource) {
            self.inner.set_resource(resource);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_flag_wins_over_the_environment() {
        assert_eq!(
            Collector::chosen(Some("http://127.0.0.1:4318")),
            Some(Collector::Flag("http://127.0.0.1:4318".into()))
        );
    }
}
