//! `argus serve`: the agent over an OpenAI-compatible HTTP API, a JSON API over the stored
//! sessions and a trace viewer in the browser, all on the `--db` memory.

use std::net::SocketAddr;

use crate::assistant::AgentArgs;

/// Arguments of `argus serve`.
#[derive(Debug, clap::Args)]
pub(crate) struct ServeArgs {
    #[command(flatten)]
    pub(crate) agent: AgentArgs,
    /// The address to listen on (port 0: any free port). Any address other than a loopback
    /// one needs a --token.
    #[arg(long, value_name = "ADDR:PORT", default_value = "127.0.0.1:8080")]
    pub(crate) bind: SocketAddr,
    /// A token every request must carry (`Authorization: Bearer TOKEN`; a browser may open
    /// `/?token=TOKEN` once, which sets a cookie).
    #[arg(
        long,
        env = "ARGUS_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    pub(crate) token: Option<String>,
    /// A side-effecting tool (e.g. write_file) the agent may run; repeatable. Others are
    /// refused (read-only tools always run); --yes allows all.
    #[arg(long = "allow", value_name = "TOOL")]
    pub(crate) allow: Vec<String>,
}

/// Serves until interrupted.
pub(crate) async fn run(args: &ServeArgs) -> anyhow::Result<()> {
    crate::serve::run(args).await
}
