//! Dequantized weights, streamed into one `model.safetensors`.
//!
//! The safetensors format is an 8-byte little-endian header length, a JSON header of names, dtypes, shapes and
//! byte ranges, then the raw data. All shapes are known from the GGUF tensor table, so the header is written first
//! and each tensor is then dequantized a slice of rows at a time, adjusted, converted and appended: peak memory is
//! a few tens of megabytes whatever the model size.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

use candle_core::quantized::{ggml_file::qtensor_from_ggml, GgmlDType};
use candle_core::Device;
use serde_json::{json, Map};

use crate::arch::{ArchitectureSpec, NormAdjust};
use crate::error::{Error, Result};
use crate::gguf::{read_at, GgufFile, TensorInfo};
use crate::OutputDType;

/// The file name mistral.rs (and transformers) look for.
pub(crate) const WEIGHTS_FILE: &str = "model.safetensors";
/// Elements dequantized at a time (16 MB of `f32`).
const CHUNK_ELEMENTS: u64 = 1 << 22;

/// One tensor to write.
#[derive(Debug)]
pub(crate) struct PlannedTensor {
    pub(crate) source: TensorInfo,
    pub(crate) dtype: GgmlDType,
    pub(crate) hf_name: String,
    pub(crate) adjust: NormAdjust,
}

/// Every tensor mapped and checked, before anything is written.
#[derive(Debug)]
pub(crate) struct WeightPlan {
    pub(crate) tensors: Vec<PlannedTensor>,
    pub(crate) vocab_size: u64,
    pub(crate) tied_embeddings: bool,
    pub(crate) dtype: OutputDType,
}

impl WeightPlan {
    /// Maps every GGUF tensor through `spec` and checks that the required ones are present.
    pub(crate) fn new(
        gguf: &GgufFile,
        spec: &ArchitectureSpec,
        block_count: u64,
        dtype: OutputDType,
    ) -> Result<Self> {
        let mut tensors = Vec::with_capacity(gguf.tensors.len());
        for t in &gguf.tensors {
            let hf_name =
                spec.hf_name(&t.name, block_count)
                    .ok_or_else(|| Error::UnexpectedTensor {
                        path: gguf.path.clone(),
                        name: t.name.clone(),
                    })?;
            let ggml = t.dtype.ok_or_else(|| Error::UnsupportedTensorType {
                path: gguf.path.clone(),
                tensor: t.name.clone(),
                ggml_type: t.type_name(),
            })?;
            let adjust = if t.name.ends_with(spec.norm_suffix) {
                spec.norm_adjust
            } else {
                NormAdjust::None
            };
            tensors.push(PlannedTensor {
                source: t.clone(),
                dtype: ggml,
                hf_name,
                adjust,
            });
        }
        for name in spec.required(block_count) {
            if gguf.tensor(&name).is_none() {
                return Err(Error::MissingTensor {
                    path: gguf.path.clone(),
                    name,
                });
            }
        }
        let embedding = gguf
            .tensor(spec.embedding)
            .ok_or_else(|| Error::MissingTensor {
                path: gguf.path.clone(),
                name: spec.embedding.to_owned(),
            })?;
        if embedding.dims.len() != 2 {
            return Err(Error::corrupt(
                &gguf.path,
                format!("`{}` is not a matrix", spec.embedding),
            ));
        }
        Ok(Self {
            tensors,
            vocab_size: embedding.rows(),
            tied_embeddings: gguf.tensor(spec.output).is_none(),
            dtype,
        })
    }

    /// Total bytes of tensor data in the output.
    pub(crate) fn data_bytes(&self) -> u64 {
        self.tensors
            .iter()
            .map(|t| t.source.elements() * self.dtype.size())
            .sum()
    }

    /// The safetensors header, padded with spaces to a multiple of 8 bytes.
    fn header(&self) -> Result<Vec<u8>, serde_json::Error> {
        let mut map = Map::new();
        map.insert("__metadata__".into(), json!({"format": "pt"}));
        let mut start = 0u64;
        for t in &self.tensors {
            let end = start + t.source.elements() * self.dtype.size();
            map.insert(
                t.hf_name.clone(),
                json!({
                    "dtype": self.dtype.safetensors_name(),
                    "shape": t.source.shape(),
                    "data_offsets": [start, end],
                }),
            );
            start = end;
        }
        let mut header = serde_json::to_vec(&map)?;
        header.resize(header.len().div_ceil(8) * 8, b' ');
        Ok(header)
    }

    /// Writes `model.safetensors` into `dir`; `progress(tensors done, bytes written)` after every slice.
    pub(crate) fn write(
        &self,
        gguf: &GgufFile,
        dir: &Path,
        progress: &mut dyn FnMut(usize, u64),
    ) -> Result<()> {
        let out_path = dir.join(WEIGHTS_FILE);
        let file = File::create(&out_path).map_err(|e| Error::io(&out_path, e))?;
        let mut out = BufWriter::with_capacity(4 << 20, file);
        let header = self
            .header()
            .map_err(|e| Error::io(&out_path, std::io::Error::other(e)))?;
        let write_err = |e| Error::io(&out_path, e);
        out.write_all(&(header.len() as u64).to_le_bytes())
            .map_err(write_err)?;
        out.write_all(&header).map_err(write_err)?;

        let mut input = File::open(&gguf.path).map_err(|e| Error::io(&gguf.path, e))?;
        let mut raw = Vec::new();
        let mut bytes = Vec::new();
        let mut written = 0u64;
        for (done, t) in self.tensors.iter().enumerate() {
            let src = &t.source;
            let row_len = src.row_len();
            let row_bytes = src.row_bytes().unwrap_or(0);
            let rows = src.rows();
            let rows_per_chunk = (CHUNK_ELEMENTS / row_len).max(1);
            let mut row = 0;
            while row < rows {
                let n = rows_per_chunk.min(rows - row);
                raw.resize((n * row_bytes) as usize, 0);
                let at = gguf.data_offset + src.offset + row * row_bytes;
                read_at(&mut input, &gguf.path, at, &mut raw)?;
                let values =
                    dequantize(t.dtype, &raw, n as usize, row_len as usize).map_err(|reason| {
                        Error::corrupt(&gguf.path, format!("tensor `{}`: {reason}", src.name))
                    })?;
                encode(&values, t.adjust, self.dtype, &mut bytes);
                out.write_all(&bytes).map_err(write_err)?;
                written += bytes.len() as u64;
                row += n;
                progress(done, written);
            }
        }
        let file = out
            .into_inner()
            .map_err(|e| Error::io(&out_path, e.into_error()))?;
        file.sync_all().map_err(write_err)?;
        progress(self.tensors.len(), written);
        Ok(())
    }
}

/// Dequantizes `rows` rows of `row_len` elements with candle. candle trusts its input; the ranges were validated
/// when the GGUF was read, and a panic is still caught here as a last line of defence.
fn dequantize(
    dtype: GgmlDType,
    raw: &[u8],
    rows: usize,
    row_len: usize,
) -> std::result::Result<Vec<f32>, String> {
    // candle reinterprets the bytes as blocks without checking their length or alignment: check both here.
    let block = dtype.block_size();
    let expected = row_len
        .is_multiple_of(block)
        .then(|| {
            rows.checked_mul(row_len / block)?
                .checked_mul(dtype.type_size())
        })
        .flatten();
    if expected != Some(raw.len()) {
        return Err(format!(
            "{} bytes do not hold {rows} rows of {row_len} {dtype:?} values",
            raw.len()
        ));
    }
    if raw.as_ptr().align_offset(std::mem::align_of::<u64>()) != 0 {
        return Err("misaligned buffer".into());
    }
    let run = || -> candle_core::Result<Vec<f32>> {
        let q = qtensor_from_ggml(dtype, raw, vec![rows, row_len], &Device::Cpu)?;
        q.dequantize(&Device::Cpu)?.flatten_all()?.to_vec1::<f32>()
    };
    match catch_unwind(AssertUnwindSafe(run)) {
        Ok(Ok(values)) => Ok(values),
        Ok(Err(e)) => Err(format!("cannot dequantize: {e}")),
        Err(_) => Err("the dequantizer panicked".into()),
    }
}

/// Applies the norm adjustment and encodes little-endian into `out` (cleared first).
fn encode(values: &[f32], adjust: NormAdjust, dtype: OutputDType, out: &mut Vec<u8>) {
    let sub = match adjust {
        NormAdjust::None => 0.0,
        NormAdjust::Subtract(s) => s,
    };
    out.clear();
    out.reserve(values.len() * dtype.size() as usize);
    match dtype {
        OutputDType::F16 => {
            for &v in values {
                out.extend_from_slice(&half::f16::from_f32(v - sub).to_le_bytes());
            }
        }
        OutputDType::F32 => {
            for &v in values {
                out.extend_from_slice(&(v - sub).to_le_bytes());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_subtracts_and_converts() {
        let mut out = Vec::new();
        encode(
            &[1.5, 2.0],
            NormAdjust::Subtract(1.0),
            OutputDType::F16,
            &mut out,
        );
        assert_eq!(out.len(), 4);
        let h = half::f16::from_le_bytes([out[0], out[1]]);
        assert_eq!(h.to_f32(), 0.5);
        encode(&[1.5], NormAdjust::None, OutputDType::F32, &mut out);
        assert_eq!(out, 1.5f32.to_le_bytes());
    }

    #[test]
    fn dequantize_reports_bad_input_instead_of_panicking() {
        // Too few bytes for one Q8_0 block of 32 values.
        let raw = vec![0u8; 8];
        assert!(dequantize(GgmlDType::Q8_0, &raw, 1, 32).is_err());
        let ones: Vec<u8> = [1.0f32, 2.0].iter().flat_map(|v| v.to_le_bytes()).collect();
        assert_eq!(
            dequantize(GgmlDType::F32, &ones, 1, 2).unwrap(),
            vec![1.0, 2.0]
        );
    }
}
