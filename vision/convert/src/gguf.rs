//! A validating GGUF reader: the header, the metadata and the tensor table.
//!
//! candle's own reader allocates whatever a length field claims and trusts tensor offsets, so a corrupt file can
//! make it abort or panic. This reader checks every length against the bytes left in the file before it allocates,
//! bounds nesting, and checks that every tensor's data lies inside the file, so that later reads (through candle)
//! only ever see consistent input.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{BufReader, ErrorKind, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use candle_core::quantized::GgmlDType;

use crate::error::{Error, Result};

/// The metadata key naming the architecture.
pub(crate) const ARCHITECTURE_KEY: &str = "general.architecture";
/// GGUF default tensor data alignment.
const DEFAULT_ALIGNMENT: u64 = 32;
/// ggml's `GGML_MAX_DIMS`.
const MAX_DIMS: u32 = 4;
/// Arrays of arrays are legal; nothing real nests deeper than this.
const MAX_ARRAY_DEPTH: u32 = 4;

/// One metadata value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum MetaValue {
    U8(u8),
    I8(i8),
    U16(u16),
    I16(i16),
    U32(u32),
    I32(i32),
    U64(u64),
    I64(i64),
    F32(f32),
    F64(f64),
    Bool(bool),
    String(String),
    Array(MetaArray),
}

/// A typed metadata array (typed so that a large array costs what it costs on disk, not 32 bytes per element).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum MetaArray {
    U8(Vec<u8>),
    I8(Vec<i8>),
    U16(Vec<u16>),
    I16(Vec<i16>),
    U32(Vec<u32>),
    I32(Vec<i32>),
    U64(Vec<u64>),
    I64(Vec<i64>),
    F32(Vec<f32>),
    F64(Vec<f64>),
    Bool(Vec<bool>),
    String(Vec<String>),
    Array(Vec<MetaArray>),
}

impl MetaValue {
    /// Any non-negative integer (GGUF writers disagree about integer widths).
    pub(crate) fn as_u64(&self) -> Option<u64> {
        match *self {
            Self::U8(v) => Some(v.into()),
            Self::U16(v) => Some(v.into()),
            Self::U32(v) => Some(v.into()),
            Self::U64(v) => Some(v),
            Self::I8(v) => u64::try_from(v).ok(),
            Self::I16(v) => u64::try_from(v).ok(),
            Self::I32(v) => u64::try_from(v).ok(),
            Self::I64(v) => u64::try_from(v).ok(),
            _ => None,
        }
    }

    /// Any number. An `f32` is widened through its shortest decimal form, so `1e-6f32` becomes `1e-6`, not
    /// `9.999999974752427e-7`.
    pub(crate) fn as_f64(&self) -> Option<f64> {
        match *self {
            Self::F32(v) => v.to_string().parse().ok(),
            Self::F64(v) => Some(v),
            _ => self.as_u64().map(|v| v as f64),
        }
    }

    pub(crate) fn as_str(&self) -> Option<&str> {
        match self {
            Self::String(s) => Some(s),
            _ => None,
        }
    }

    pub(crate) fn as_bool(&self) -> Option<bool> {
        match *self {
            Self::Bool(b) => Some(b),
            _ => None,
        }
    }
}

/// One entry of the tensor table.
#[derive(Debug, Clone)]
pub(crate) struct TensorInfo {
    /// The GGUF tensor name.
    pub(crate) name: String,
    /// Dimensions in GGUF order: `dims[0]` is the innermost (contiguous) one.
    pub(crate) dims: Vec<u64>,
    /// The raw GGML type number.
    pub(crate) ggml_type: u32,
    /// candle's type, if candle can dequantize it.
    pub(crate) dtype: Option<GgmlDType>,
    /// Offset of the data from the start of the data section.
    pub(crate) offset: u64,
}

impl TensorInfo {
    /// Number of elements (checked against overflow when the table was read).
    pub(crate) fn elements(&self) -> u64 {
        self.dims.iter().product()
    }

    /// The shape in row-major (PyTorch / safetensors) order: the GGUF dims reversed.
    pub(crate) fn shape(&self) -> Vec<u64> {
        self.dims.iter().rev().copied().collect()
    }

    /// Elements per row (the innermost dimension).
    pub(crate) fn row_len(&self) -> u64 {
        self.dims.first().copied().unwrap_or(1)
    }

    /// Number of rows (all dimensions but the innermost).
    pub(crate) fn rows(&self) -> u64 {
        self.dims.iter().skip(1).product()
    }

    /// Bytes of one stored row, for a supported type.
    pub(crate) fn row_bytes(&self) -> Option<u64> {
        let dtype = self.dtype?;
        Some(self.row_len() / dtype.block_size() as u64 * dtype.type_size() as u64)
    }

    /// The GGML type's name, for messages.
    pub(crate) fn type_name(&self) -> String {
        ggml_type_name(self.ggml_type)
            .map(str::to_owned)
            .unwrap_or_else(|| format!("#{}", self.ggml_type))
    }
}

/// A parsed and validated GGUF file (header, metadata and tensor table; the tensor data stays on disk).
#[derive(Debug)]
pub(crate) struct GgufFile {
    pub(crate) path: PathBuf,
    pub(crate) metadata: HashMap<String, MetaValue>,
    /// Tensors in file order.
    pub(crate) tensors: Vec<TensorInfo>,
    /// Absolute offset of the tensor data section.
    pub(crate) data_offset: u64,
}

impl GgufFile {
    /// Reads and validates the whole header.
    pub(crate) fn open(path: &Path) -> Result<Self> {
        let mut cur = Cursor::open(path)?;
        let (tensor_count, kv_count) = cur.header()?;
        // Every key-value pair needs at least a key length, a type and one byte of value.
        cur.need_items(kv_count, cur.len_size() + 4 + 1, "metadata entries")?;
        let mut metadata = HashMap::new();
        for _ in 0..kv_count {
            let key = cur.string("metadata key")?;
            let ty = cur.u32("metadata type")?;
            let value = cur.value(ty, 0)?;
            metadata.insert(key, value);
        }
        let alignment = match metadata.get("general.alignment") {
            None => DEFAULT_ALIGNMENT,
            Some(v) => match v.as_u64() {
                Some(a) if a.is_power_of_two() && a <= 1 << 20 => a,
                _ => {
                    return Err(Error::corrupt(
                        path,
                        format!("invalid general.alignment {v:?}"),
                    ))
                }
            },
        };

        // Name length, dimension count, type, offset.
        cur.need_items(tensor_count, cur.len_size() + 4 + 4 + 8, "tensor infos")?;
        let mut tensors = Vec::new();
        let mut names = HashSet::new();
        for _ in 0..tensor_count {
            let info = cur.tensor_info()?;
            if !names.insert(info.name.clone()) {
                return Err(Error::corrupt(
                    path,
                    format!("tensor `{}` appears twice", info.name),
                ));
            }
            tensors.push(info);
        }
        let data_offset = cur.pos.div_ceil(alignment) * alignment;
        let file_len = cur.len;
        for t in &tensors {
            check_tensor_range(path, t, data_offset, alignment, file_len)?;
        }
        Ok(Self {
            path: path.to_path_buf(),
            metadata,
            tensors,
            data_offset,
        })
    }

    /// A metadata value, or [`Error::MissingMetadata`].
    pub(crate) fn get(&self, key: &str) -> Result<&MetaValue> {
        self.metadata
            .get(key)
            .ok_or_else(|| Error::missing_metadata(&self.path, key))
    }

    /// A string metadata value, or [`Error::MissingMetadata`].
    pub(crate) fn get_str(&self, key: &str) -> Result<&str> {
        self.get(key)?
            .as_str()
            .ok_or_else(|| Error::missing_metadata(&self.path, key))
    }

    /// The declared architecture.
    pub(crate) fn architecture(&self) -> Result<&str> {
        self.get_str(ARCHITECTURE_KEY)
    }

    /// Takes an array out of the metadata (the tokenizer arrays are large; this avoids copying them).
    pub(crate) fn take_array(&mut self, key: &str) -> Result<MetaArray> {
        match self.metadata.remove(key) {
            Some(MetaValue::Array(a)) => Ok(a),
            Some(other) => {
                self.metadata.insert(key.to_owned(), other);
                Err(Error::missing_metadata(&self.path, key))
            }
            None => Err(Error::missing_metadata(&self.path, key)),
        }
    }

    pub(crate) fn tensor(&self, name: &str) -> Option<&TensorInfo> {
        self.tensors.iter().find(|t| t.name == name)
    }
}

/// A GGUF's metadata, from a header whose every length and tensor data range was checked against the file.
#[derive(Debug, Clone)]
pub struct GgufMetadata {
    values: HashMap<String, MetaValue>,
}

impl GgufMetadata {
    /// Reads and validates the header, the metadata and the tensor table (no tensor data).
    pub(crate) fn read(path: &Path) -> Result<Self> {
        let file = GgufFile::open(path)?;
        Ok(Self {
            values: file.metadata,
        })
    }

    /// `general.architecture`, if it is present and a string.
    pub fn architecture(&self) -> Option<&str> {
        self.string(ARCHITECTURE_KEY)
    }

    /// The string value of `key`; `None` when it is absent or of another type.
    pub fn string(&self, key: &str) -> Option<&str> {
        self.values.get(key).and_then(MetaValue::as_str)
    }

    /// The value of `key` as a non-negative integer (of any width); `None` when it is absent or
    /// not such an integer.
    pub fn u64(&self, key: &str) -> Option<u64> {
        self.values.get(key).and_then(MetaValue::as_u64)
    }

    /// Whether the metadata has `key`, of any type.
    pub fn contains(&self, key: &str) -> bool {
        self.values.contains_key(key)
    }
}

fn check_tensor_range(
    path: &Path,
    t: &TensorInfo,
    data_offset: u64,
    alignment: u64,
    file_len: u64,
) -> Result<()> {
    let Some(dtype) = t.dtype else {
        // Unsupported types are reported (as such) when the conversion is planned; their sizes are unknown here.
        return Ok(());
    };
    let block = dtype.block_size() as u64;
    if !t.row_len().is_multiple_of(block) {
        return Err(Error::corrupt(
            path,
            format!(
                "tensor `{}`: row length {} is not a multiple of the {} block size {block}",
                t.name,
                t.row_len(),
                t.type_name()
            ),
        ));
    }
    if !t.offset.is_multiple_of(alignment) {
        return Err(Error::corrupt(
            path,
            format!(
                "tensor `{}`: offset {} is not aligned to {alignment}",
                t.name, t.offset
            ),
        ));
    }
    let bytes = t.elements() / block * dtype.type_size() as u64;
    let end = data_offset
        .checked_add(t.offset)
        .and_then(|s| s.checked_add(bytes));
    match end {
        Some(end) if end <= file_len => Ok(()),
        _ => Err(Error::corrupt(
            path,
            format!(
                "tensor `{}` data ({bytes} bytes at offset {}) lies beyond the end of the file ({file_len} bytes)",
                t.name,
                data_offset.saturating_add(t.offset)
            ),
        )),
    }
}

/// Reads only as much of the header as it takes to find `general.architecture`.
pub(crate) fn read_architecture(path: &Path) -> Result<String> {
    let mut cur = Cursor::open(path)?;
    let (_, kv_count) = cur.header()?;
    cur.need_items(kv_count, cur.len_size() + 4 + 1, "metadata entries")?;
    for _ in 0..kv_count {
        let key = cur.string("metadata key")?;
        let ty = cur.u32("metadata type")?;
        if key == ARCHITECTURE_KEY {
            return match cur.value(ty, 0)? {
                MetaValue::String(s) => Ok(s),
                _ => Err(Error::missing_metadata(path, ARCHITECTURE_KEY)),
            };
        }
        cur.skip_value(ty, 0)?;
    }
    Err(Error::missing_metadata(path, ARCHITECTURE_KEY))
}

/// The GGML type's name, if it is one ggml defines.
pub(crate) fn ggml_type_name(id: u32) -> Option<&'static str> {
    Some(match id {
        0 => "F32",
        1 => "F16",
        2 => "Q4_0",
        3 => "Q4_1",
        6 => "Q5_0",
        7 => "Q5_1",
        8 => "Q8_0",
        9 => "Q8_1",
        10 => "Q2_K",
        11 => "Q3_K",
        12 => "Q4_K",
        13 => "Q5_K",
        14 => "Q6_K",
        15 => "Q8_K",
        16 => "IQ2_XXS",
        17 => "IQ2_XS",
        18 => "IQ3_XXS",
        19 => "IQ1_S",
        20 => "IQ4_NL",
        21 => "IQ3_S",
        22 => "IQ2_S",
        23 => "IQ4_XS",
        24 => "I8",
        25 => "I16",
        26 => "I32",
        27 => "I64",
        28 => "F64",
        29 => "IQ1_M",
        30 => "BF16",
        34 => "TQ1_0",
        35 => "TQ2_0",
        39 => "MXFP4",
        _ => return None,
    })
}

/// candle's type for a GGML type number, if candle can dequantize it.
fn candle_dtype(id: u32) -> Option<GgmlDType> {
    Some(match id {
        0 => GgmlDType::F32,
        1 => GgmlDType::F16,
        2 => GgmlDType::Q4_0,
        3 => GgmlDType::Q4_1,
        6 => GgmlDType::Q5_0,
        7 => GgmlDType::Q5_1,
        8 => GgmlDType::Q8_0,
        10 => GgmlDType::Q2K,
        11 => GgmlDType::Q3K,
        12 => GgmlDType::Q4K,
        13 => GgmlDType::Q5K,
        14 => GgmlDType::Q6K,
        30 => GgmlDType::BF16,
        _ => return None,
    })
}

/// Size in bytes of a fixed-size metadata value type, `None` for strings and arrays.
fn fixed_size(ty: u32) -> Option<u64> {
    match ty {
        0 | 1 | 7 => Some(1),
        2 | 3 => Some(2),
        4..=6 => Some(4),
        10..=12 => Some(8),
        _ => None,
    }
}

/// A bounds-checked little-endian reader over the file.
struct Cursor<'p> {
    reader: BufReader<File>,
    path: &'p Path,
    pos: u64,
    len: u64,
    version: u32,
}

impl<'p> Cursor<'p> {
    fn open(path: &'p Path) -> Result<Self> {
        let file = File::open(path).map_err(|e| Error::io(path, e))?;
        let len = file.metadata().map_err(|e| Error::io(path, e))?.len();
        Ok(Self {
            reader: BufReader::with_capacity(1 << 20, file),
            path,
            pos: 0,
            len,
            version: 0,
        })
    }

    /// Magic and version; returns (tensor count, metadata count).
    fn header(&mut self) -> Result<(u64, u64)> {
        if self.len < 4 {
            return Err(Error::NotGguf {
                path: self.path.to_path_buf(),
            });
        }
        let magic: [u8; 4] = self.array("magic")?;
        if &magic != b"GGUF" {
            return Err(Error::NotGguf {
                path: self.path.to_path_buf(),
            });
        }
        let version = self.u32("version")?;
        if !(1..=3).contains(&version) {
            let reason = if (1..=3).contains(&version.swap_bytes()) {
                "big-endian GGUF files are not supported".to_owned()
            } else {
                format!("unsupported GGUF version {version}")
            };
            return Err(Error::corrupt(self.path, reason));
        }
        self.version = version;
        let tensors = self.len_field("tensor count")?;
        let kvs = self.len_field("metadata count")?;
        Ok((tensors, kvs))
    }

    /// Size of a length field: 4 bytes in GGUF v1, 8 after.
    fn len_size(&self) -> u64 {
        if self.version == 1 {
            4
        } else {
            8
        }
    }

    fn need(&self, n: u64, what: &str) -> Result<()> {
        match self.pos.checked_add(n) {
            Some(end) if end <= self.len => Ok(()),
            _ => Err(Error::corrupt(
                self.path,
                format!(
                    "truncated: {what} needs {n} bytes at offset {}, the file has {}",
                    self.pos, self.len
                ),
            )),
        }
    }

    fn need_items(&self, count: u64, min_size: u64, what: &str) -> Result<()> {
        match count.checked_mul(min_size) {
            Some(n) => self.need(n, what),
            None => Err(Error::corrupt(
                self.path,
                format!("impossible count {count} of {what}"),
            )),
        }
    }

    fn read_exact(&mut self, buf: &mut [u8], what: &str) -> Result<()> {
        self.need(buf.len() as u64, what)?;
        self.reader.read_exact(buf).map_err(|e| {
            if e.kind() == ErrorKind::UnexpectedEof {
                Error::corrupt(self.path, format!("truncated while reading {what}"))
            } else {
                Error::io(self.path, e)
            }
        })?;
        self.pos += buf.len() as u64;
        Ok(())
    }

    fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N]> {
        let mut buf = [0u8; N];
        self.read_exact(&mut buf, what)?;
        Ok(buf)
    }

    fn u32(&mut self, what: &str) -> Result<u32> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }

    fn u64(&mut self, what: &str) -> Result<u64> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }

    fn len_field(&mut self, what: &str) -> Result<u64> {
        if self.version == 1 {
            self.u32(what).map(u64::from)
        } else {
            self.u64(what)
        }
    }

    fn skip(&mut self, n: u64, what: &str) -> Result<()> {
        self.need(n, what)?;
        let delta = i64::try_from(n).map_err(|_| Error::corrupt(self.path, "impossible length"))?;
        self.reader
            .seek_relative(delta)
            .map_err(|e| Error::io(self.path, e))?;
        self.pos += n;
        Ok(())
    }

    fn string(&mut self, what: &str) -> Result<String> {
        let n = self.len_field(what)?;
        self.need(n, what)?;
        let mut buf = vec![0u8; n as usize];
        self.read_exact(&mut buf, what)?;
        // Some writers NUL-terminate; a few strings are not valid UTF-8 (handled as candle does).
        while buf.last() == Some(&0) {
            buf.pop();
        }
        Ok(match String::from_utf8(buf) {
            Ok(s) => s,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        })
    }

    fn value(&mut self, ty: u32, depth: u32) -> Result<MetaValue> {
        Ok(match ty {
            0 => MetaValue::U8(u8::from_le_bytes(self.array("u8")?)),
            1 => MetaValue::I8(i8::from_le_bytes(self.array("i8")?)),
            2 => MetaValue::U16(u16::from_le_bytes(self.array("u16")?)),
            3 => MetaValue::I16(i16::from_le_bytes(self.array("i16")?)),
            4 => MetaValue::U32(u32::from_le_bytes(self.array("u32")?)),
            5 => MetaValue::I32(i32::from_le_bytes(self.array("i32")?)),
            6 => MetaValue::F32(f32::from_le_bytes(self.array("f32")?)),
            7 => MetaValue::Bool(self.bool()?),
            8 => MetaValue::String(self.string("string value")?),
            9 => MetaValue::Array(self.meta_array(depth)?),
            10 => MetaValue::U64(u64::from_le_bytes(self.array("u64")?)),
            11 => MetaValue::I64(i64::from_le_bytes(self.array("i64")?)),
            12 => MetaValue::F64(f64::from_le_bytes(self.array("f64")?)),
            other => {
                return Err(Error::corrupt(
                    self.path,
                    format!("unknown metadata value type {other}"),
                ))
            }
        })
    }

    fn bool(&mut self) -> Result<bool> {
        match self.array::<1>("bool")?[0] {
            0 => Ok(false),
            1 => Ok(true),
            b => Err(Error::corrupt(self.path, format!("invalid bool value {b}"))),
        }
    }

    fn meta_array(&mut self, depth: u32) -> Result<MetaArray> {
        if depth >= MAX_ARRAY_DEPTH {
            return Err(Error::corrupt(
                self.path,
                "metadata arrays nested too deeply",
            ));
        }
        let ty = self.u32("array type")?;
        let n = self.len_field("array length")?;
        let min = match ty {
            8 => self.len_size(),
            9 => 4 + self.len_size(),
            _ => fixed_size(ty).ok_or_else(|| {
                Error::corrupt(self.path, format!("unknown metadata array type {ty}"))
            })?,
        };
        self.need_items(n, min, "metadata array")?;
        let n = n as usize;
        macro_rules! fixed {
            ($variant:ident, $t:ty) => {{
                const SIZE: usize = std::mem::size_of::<$t>();
                let mut raw = vec![0u8; n * SIZE];
                self.read_exact(&mut raw, "metadata array")?;
                MetaArray::$variant(
                    raw.chunks_exact(SIZE)
                        .map(|c| {
                            let mut b = [0u8; SIZE];
                            b.copy_from_slice(c);
                            <$t>::from_le_bytes(b)
                        })
                        .collect(),
                )
            }};
        }
        Ok(match ty {
            0 => fixed!(U8, u8),
            1 => fixed!(I8, i8),
            2 => fixed!(U16, u16),
            3 => fixed!(I16, i16),
            4 => fixed!(U32, u32),
            5 => fixed!(I32, i32),
            6 => fixed!(F32, f32),
            10 => fixed!(U64, u64),
            11 => fixed!(I64, i64),
            12 => fixed!(F64, f64),
            7 => {
                let mut v = Vec::with_capacity(n);
                for _ in 0..n {
                    v.push(self.bool()?);
                }
                MetaArray::Bool(v)
            }
            8 => {
                let mut v = Vec::with_capacity(n);
                for _ in 0..n {
                    v.push(self.string("string array element")?);
                }
                MetaArray::String(v)
            }
            _ => {
                let mut v = Vec::new();
                for _ in 0..n {
                    v.push(self.meta_array(depth + 1)?);
                }
                MetaArray::Array(v)
            }
        })
    }

    fn skip_value(&mut self, ty: u32, depth: u32) -> Result<()> {
        if let Some(size) = fixed_size(ty) {
            return self.skip(size, "metadata value");
        }
        match ty {
            8 => {
                let n = self.len_field("string length")?;
                self.skip(n, "string value")
            }
            9 => {
                if depth >= MAX_ARRAY_DEPTH {
                    return Err(Error::corrupt(
                        self.path,
                        "metadata arrays nested too deeply",
                    ));
                }
                let elem = self.u32("array type")?;
                let n = self.len_field("array length")?;
                if let Some(size) = fixed_size(elem) {
                    let total = n.checked_mul(size).ok_or_else(|| {
                        Error::corrupt(self.path, format!("impossible array length {n}"))
                    })?;
                    return self.skip(total, "metadata array");
                }
                if elem != 8 && elem != 9 {
                    return Err(Error::corrupt(
                        self.path,
                        format!("unknown metadata array type {elem}"),
                    ));
                }
                self.need_items(n, self.len_size(), "metadata array")?;
                for _ in 0..n {
                    self.skip_value(elem, depth + 1)?;
                }
                Ok(())
            }
            other => Err(Error::corrupt(
                self.path,
                format!("unknown metadata value type {other}"),
            )),
        }
    }

    fn tensor_info(&mut self) -> Result<TensorInfo> {
        let name = self.string("tensor name")?;
        let n_dims = self.u32("tensor dimension count")?;
        if n_dims == 0 || n_dims > MAX_DIMS {
            return Err(Error::corrupt(
                self.path,
                format!("tensor `{name}` has {n_dims} dimensions"),
            ));
        }
        let mut dims = Vec::with_capacity(n_dims as usize);
        let mut elements: u64 = 1;
        for _ in 0..n_dims {
            let d = self.len_field("tensor dimension")?;
            elements = elements.checked_mul(d).filter(|_| d > 0).ok_or_else(|| {
                Error::corrupt(
                    self.path,
                    format!("tensor `{name}` has an impossible shape"),
                )
            })?;
            dims.push(d);
        }
        // No tensor can hold more elements than the file has bits, whatever the type.
        if elements > self.len.saturating_mul(8) {
            return Err(Error::corrupt(
                self.path,
                format!("tensor `{name}` claims {elements} elements, more than the file can hold"),
            ));
        }
        let ggml_type = self.u32("tensor type")?;
        if ggml_type_name(ggml_type).is_none() {
            return Err(Error::corrupt(
                self.path,
                format!("tensor `{name}` has unknown GGML type {ggml_type}"),
            ));
        }
        let offset = self.u64("tensor offset")?;
        Ok(TensorInfo {
            name,
            dims,
            ggml_type,
            dtype: candle_dtype(ggml_type),
            offset,
        })
    }
}

/// Reads `len` bytes at absolute offset `at` (the range was validated when the table was read).
pub(crate) fn read_at(file: &mut File, path: &Path, at: u64, buf: &mut [u8]) -> Result<()> {
    file.seek(SeekFrom::Start(at))
        .map_err(|e| Error::io(path, e))?;
    file.read_exact(buf).map_err(|e| {
        if e.kind() == ErrorKind::UnexpectedEof {
            Error::corrupt(path, "the file was truncated while it was being converted")
        } else {
            Error::io(path, e)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn f32_metadata_widens_through_its_decimal_form() {
        assert_eq!(MetaValue::F32(1e-6).as_f64(), Some(1e-6));
        assert_eq!(MetaValue::F32(1_000_000.0).as_f64(), Some(1e6));
        assert_eq!(MetaValue::I32(-1).as_u64(), None);
        assert_eq!(MetaValue::U32(7).as_f64(), Some(7.0));
    }

    #[test]
    fn every_candle_type_has_a_name() {
        for id in 0..64 {
            if candle_dtype(id).is_some() {
                assert!(ggml_type_name(id).is_some(), "{id}");
            }
        }
    }
}
