//! `config.json` and `generation_config.json` from the GGUF metadata, driven by the architecture table.

use serde_json::{json, Map, Value};

use crate::arch::{ArchitectureSpec, ConfigValue};
use crate::error::{Error, Result};
use crate::gguf::GgufFile;
use crate::OutputDType;

/// What a [`ConfigValue::Derived`] function can see.
pub(crate) struct ConfigContext<'a> {
    pub(crate) gguf: &'a GgufFile,
    pub(crate) spec: &'a ArchitectureSpec,
}

impl ConfigContext<'_> {
    /// Integer metadata `<arch>.<key>`.
    pub(crate) fn meta_u64(&self, key: &str) -> Result<u64> {
        self.global_u64(&self.spec.key(key))
    }

    /// Float metadata `<arch>.<key>`.
    pub(crate) fn meta_f64(&self, key: &str) -> Result<f64> {
        let key = self.spec.key(key);
        self.gguf
            .get(&key)?
            .as_f64()
            .ok_or_else(|| Error::missing_metadata(&self.gguf.path, key))
    }

    /// Float metadata `<arch>.<key>`, if present and numeric.
    pub(crate) fn meta_f64_opt(&self, key: &str) -> Option<f64> {
        self.gguf.metadata.get(&self.spec.key(key))?.as_f64()
    }

    /// Integer metadata under its full key.
    pub(crate) fn global_u64(&self, key: &str) -> Result<u64> {
        self.gguf
            .get(key)?
            .as_u64()
            .ok_or_else(|| Error::missing_metadata(&self.gguf.path, key))
    }

    fn value(&self, source: ConfigValue) -> Result<Value> {
        Ok(match source {
            ConfigValue::MetaInt(key) => json!(self.meta_u64(key)?),
            ConfigValue::MetaFloat(key) => json!(self.meta_f64(key)?),
            ConfigValue::MetaFloatOr(key, default) => {
                json!(self.meta_f64_opt(key).unwrap_or(default))
            }
            ConfigValue::GlobalInt(key) => json!(self.global_u64(key)?),
            ConfigValue::GlobalIntOr(key, default) => match self.gguf.metadata.get(key) {
                None => json!(default),
                Some(_) => json!(self.global_u64(key)?),
            },
            ConfigValue::Int(v) => json!(v),
            ConfigValue::Float(v) => json!(v),
            ConfigValue::Str(v) => json!(v),
            ConfigValue::Bool(v) => json!(v),
            ConfigValue::Null => Value::Null,
            ConfigValue::Derived(f) => f(self)?,
        })
    }
}

/// Facts about the weights that go into `config.json`.
pub(crate) struct WeightFacts {
    pub(crate) vocab_size: u64,
    pub(crate) tied_embeddings: bool,
    pub(crate) dtype: OutputDType,
}

/// `config.json`.
pub(crate) fn config_json(cx: &ConfigContext<'_>, facts: &WeightFacts) -> Result<Value> {
    let mut map = Map::new();
    map.insert("architectures".into(), json!([cx.spec.hf_architecture]));
    map.insert("model_type".into(), json!(cx.spec.model_type));
    for &(key, source) in cx.spec.config {
        map.insert(key.into(), cx.value(source)?);
    }
    map.insert("vocab_size".into(), json!(facts.vocab_size));
    map.insert("tie_word_embeddings".into(), json!(facts.tied_embeddings));
    map.insert("torch_dtype".into(), json!(facts.dtype.torch_dtype()));
    Ok(Value::Object(map))
}

/// `generation_config.json`: special token ids only (no sampling defaults, so callers' settings stand).
pub(crate) fn generation_config_json(bos: Option<u32>, eos_ids: &[u32], pad: Option<u32>) -> Value {
    let mut map = Map::new();
    if let Some(bos) = bos {
        map.insert("bos_token_id".into(), json!(bos));
    }
    match eos_ids {
        [] => {}
        [one] => {
            map.insert("eos_token_id".into(), json!(one));
        }
        many => {
            map.insert("eos_token_id".into(), json!(many));
        }
    }
    if let Some(pad) = pad {
        map.insert("pad_token_id".into(), json!(pad));
    }
    Value::Object(map)
}
