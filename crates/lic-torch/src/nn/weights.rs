//! Named tensors on disk as safetensors: strict loading into a `VarStore` (every variable present
//! with its exact shape, no unknown float tensors), and saving with metadata.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use tch::{nn, Device, Kind, Tensor};

#[derive(Debug, thiserror::Error)]
pub enum WeightsError {
    #[error("{path}: cannot read: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: not a valid safetensors file: {reason}")]
    Parse { path: PathBuf, reason: String },
    #[error("{path}: missing tensor `{name}`")]
    Missing { path: PathBuf, name: String },
    #[error("{path}: tensor `{name}` has shape {found:?}, the model expects {expected:?}")]
    Shape {
        path: PathBuf,
        name: String,
        expected: Vec<i64>,
        found: Vec<i64>,
    },
    #[error("{path}: unexpected tensor `{name}` (not a parameter of this model)")]
    Unexpected { path: PathBuf, name: String },
    #[error("{path}: tensor `{name}` has unsupported dtype {dtype}")]
    Dtype {
        path: PathBuf,
        name: String,
        dtype: String,
    },
    #[error("{path}: cannot write: {reason}")]
    Write { path: PathBuf, reason: String },
}

/// Storage precision of float tensors when saving.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FloatStorage {
    F32,
    F16,
}

/// A tensor read from a file, converted to a CPU tensor of its natural kind (float → f32).
pub fn to_tensor(view: &TensorView<'_>) -> Option<Tensor> {
    let shape: Vec<i64> = view.shape().iter().map(|&d| d as i64).collect();
    let data = view.data();
    let t = match view.dtype() {
        Dtype::F32 => Tensor::from_data_size(data, &shape, Kind::Float),
        Dtype::F16 => Tensor::from_data_size(data, &shape, Kind::Half).to_kind(Kind::Float),
        Dtype::BF16 => Tensor::from_data_size(data, &shape, Kind::BFloat16).to_kind(Kind::Float),
        Dtype::F64 => Tensor::from_data_size(data, &shape, Kind::Double),
        Dtype::I32 => Tensor::from_data_size(data, &shape, Kind::Int),
        Dtype::I64 => Tensor::from_data_size(data, &shape, Kind::Int64),
        Dtype::U8 => Tensor::from_data_size(data, &shape, Kind::Uint8),
        _ => return None,
    };
    Some(t)
}

/// All tensors of a safetensors file (CPU) and its metadata.
pub struct TensorFile {
    pub path: PathBuf,
    pub tensors: BTreeMap<String, Tensor>,
    pub metadata: HashMap<String, String>,
}

impl TensorFile {
    pub fn read(path: &Path) -> Result<TensorFile, WeightsError> {
        let bytes = std::fs::read(path).map_err(|source| WeightsError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_bytes(&bytes, path)
    }

    pub fn from_bytes(bytes: &[u8], path: &Path) -> Result<TensorFile, WeightsError> {
        let perr = |reason: String| WeightsError::Parse {
            path: path.to_path_buf(),
            reason,
        };
        let (_, meta) = SafeTensors::read_metadata(bytes).map_err(|e| perr(e.to_string()))?;
        let st = SafeTensors::deserialize(bytes).map_err(|e| perr(e.to_string()))?;
        let mut tensors = BTreeMap::new();
        for (name, view) in st.tensors() {
            let t = to_tensor(&view).ok_or_else(|| WeightsError::Dtype {
                path: path.to_path_buf(),
                name: name.clone(),
                dtype: format!("{:?}", view.dtype()),
            })?;
            tensors.insert(name, t);
        }
        Ok(TensorFile {
            path: path.to_path_buf(),
            tensors,
            metadata: meta.metadata().clone().unwrap_or_default(),
        })
    }

    /// Copies `prefix + name` for every variable of `vs` (strict: all present, same shapes).
    /// With `exhaustive`, any float tensor under `prefix` that is not a variable is an error.
    pub fn load_into(
        &self,
        vs: &nn::VarStore,
        prefix: &str,
        exhaustive: bool,
    ) -> Result<(), WeightsError> {
        self.load_into_except(vs, prefix, exhaustive, &|_| false)
            .map(drop)
    }

    /// [`TensorFile::load_into`], except that a variable the file lacks is left as it is when
    /// `may_lack(name)` allows it; returns the names so left, sorted.
    pub fn load_into_except(
        &self,
        vs: &nn::VarStore,
        prefix: &str,
        exhaustive: bool,
        may_lack: &dyn Fn(&str) -> bool,
    ) -> Result<Vec<String>, WeightsError> {
        let vars = vs.variables();
        let mut lacking = Vec::new();
        for (name, var) in &vars {
            let key = format!("{prefix}{name}");
            let Some(t) = self.tensors.get(&key) else {
                if may_lack(name) {
                    lacking.push(name.clone());
                    continue;
                }
                return Err(WeightsError::Missing {
                    path: self.path.clone(),
                    name: key,
                });
            };
            if t.size() != var.size() {
                return Err(WeightsError::Shape {
                    path: self.path.clone(),
                    name: key,
                    expected: var.size(),
                    found: t.size(),
                });
            }
            tch::no_grad(|| {
                let mut v = var.shallow_clone();
                v.copy_(&t.to_kind(var.kind()).to_device(var.device()));
            });
        }
        if exhaustive {
            for (key, t) in &self.tensors {
                if let Some(name) = key.strip_prefix(prefix) {
                    if t.is_floating_point() && !vars.contains_key(name) {
                        return Err(WeightsError::Unexpected {
                            path: self.path.clone(),
                            name: key.clone(),
                        });
                    }
                }
            }
        }
        lacking.sort();
        Ok(lacking)
    }
}

fn dtype_of(kind: Kind) -> Option<Dtype> {
    Some(match kind {
        Kind::Float => Dtype::F32,
        Kind::Half => Dtype::F16,
        Kind::Double => Dtype::F64,
        Kind::Int => Dtype::I32,
        Kind::Int64 => Dtype::I64,
        Kind::Uint8 => Dtype::U8,
        _ => return None,
    })
}

/// Serializes named tensors (any device) with metadata into safetensors bytes.
pub fn to_bytes(
    tensors: &[(String, Tensor)],
    storage: FloatStorage,
    metadata: &HashMap<String, String>,
) -> Result<Vec<u8>, String> {
    let mut owned: Vec<(String, Vec<usize>, Dtype, Vec<u8>)> = Vec::with_capacity(tensors.len());
    for (name, t) in tensors {
        let mut t = t.detach().to_device(Device::Cpu).contiguous();
        if t.kind() == Kind::Float && storage == FloatStorage::F16 {
            t = t.to_kind(Kind::Half);
        }
        let dtype =
            dtype_of(t.kind()).ok_or_else(|| format!("{name}: unsupported kind {:?}", t.kind()))?;
        let numel = t.numel();
        let mut data = vec![0u8; numel * t.kind().elt_size_in_bytes()];
        t.copy_data_u8(&mut data, numel);
        let shape = t.size().iter().map(|&d| d as usize).collect();
        owned.push((name.clone(), shape, dtype, data));
    }
    let views: Vec<(String, TensorView<'_>)> = owned
        .iter()
        .map(|(n, s, d, b)| {
            (
                n.clone(),
                TensorView::new(*d, s.clone(), b).expect("consistent view"),
            )
        })
        .collect();
    let bytes = safetensors::serialize(views, Some(metadata.clone())).map_err(|e| e.to_string())?;
    canonical_header(bytes)
}

/// Rewrites a safetensors header with its JSON keys sorted. `safetensors::serialize` takes the
/// metadata as a `HashMap`, whose order changes from run to run: without this, exporting the same
/// weights twice gives files (and so weights hashes) that differ. Data offsets are relative to the
/// end of the header, so only the header changes.
fn canonical_header(bytes: Vec<u8>) -> Result<Vec<u8>, String> {
    let n = u64::from_le_bytes(bytes[..8].try_into().expect("8-byte length")) as usize;
    let header: serde_json::Value =
        serde_json::from_slice(&bytes[8..8 + n]).map_err(|e| e.to_string())?;
    // serde_json's default map is a BTreeMap: keys come out sorted.
    let mut text = serde_json::to_string(&header)
        .map_err(|e| e.to_string())?
        .into_bytes();
    while text.len() % 8 != 0 {
        text.push(b' ');
    }
    let mut out = Vec::with_capacity(8 + text.len() + bytes.len() - 8 - n);
    out.extend_from_slice(&(text.len() as u64).to_le_bytes());
    out.extend_from_slice(&text);
    out.extend_from_slice(&bytes[8 + n..]);
    Ok(out)
}

/// Saves named tensors atomically.
pub fn save(
    path: &Path,
    tensors: &[(String, Tensor)],
    storage: FloatStorage,
    metadata: &HashMap<String, String>,
) -> Result<(), WeightsError> {
    let werr = |reason: String| WeightsError::Write {
        path: path.to_path_buf(),
        reason,
    };
    let bytes = to_bytes(tensors, storage, metadata).map_err(werr)?;
    crate::io::file::write_atomic(path, &bytes).map_err(|e| werr(e.to_string()))
}

/// The variables of a `VarStore` as `(prefix + name, tensor)` pairs, sorted by name.
pub fn named_vars(vs: &nn::VarStore, prefix: &str) -> Vec<(String, Tensor)> {
    let mut v: Vec<(String, Tensor)> = vs
        .variables()
        .into_iter()
        .map(|(n, t)| (format!("{prefix}{n}"), t))
        .collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict_round_trip() {
        let d = tempfile::tempdir().unwrap();
        let vs = nn::VarStore::new(Device::Cpu);
        let _l = nn::linear(vs.root() / "lin", 3, 2, Default::default());
        let path = d.path().join("w.safetensors");
        let mut meta = HashMap::new();
        meta.insert("k".to_string(), "v".to_string());
        save(&path, &named_vars(&vs, ""), FloatStorage::F32, &meta).unwrap();
        let vs2 = nn::VarStore::new(Device::Cpu);
        let _l2 = nn::linear(vs2.root() / "lin", 3, 2, Default::default());
        let f = TensorFile::read(&path).unwrap();
        assert_eq!(f.metadata["k"], "v");
        f.load_into(&vs2, "", true).unwrap();
        let a = &vs.variables()["lin.weight"];
        let b = &vs2.variables()["lin.weight"];
        assert!(a.equal(b));
        // Wrong shape → typed error.
        let vs3 = nn::VarStore::new(Device::Cpu);
        let _l3 = nn::linear(vs3.root() / "lin", 4, 2, Default::default());
        assert!(matches!(
            f.load_into(&vs3, "", true),
            Err(WeightsError::Shape { .. })
        ));
        // Missing variable → typed error.
        let vs4 = nn::VarStore::new(Device::Cpu);
        let _l4 = nn::linear(vs4.root() / "other", 3, 2, Default::default());
        assert!(matches!(
            f.load_into(&vs4, "", false),
            Err(WeightsError::Missing { .. })
        ));
        // Extra float tensor → typed error when exhaustive.
        let vs5 = nn::VarStore::new(Device::Cpu);
        let _l5 = nn::linear(
            vs5.root() / "lin",
            3,
            2,
            nn::LinearConfig {
                bias: false,
                ..Default::default()
            },
        );
        assert!(matches!(
            f.load_into(&vs5, "", true),
            Err(WeightsError::Unexpected { .. })
        ));
        // Metadata order does not change the bytes.
        let mut m2 = HashMap::new();
        for i in 0..16 {
            m2.insert(format!("key{i}"), i.to_string());
        }
        let once = to_bytes(&named_vars(&vs, ""), FloatStorage::F32, &m2).unwrap();
        let mut m3 = HashMap::new();
        for i in (0..16).rev() {
            m3.insert(format!("key{i}"), i.to_string());
        }
        assert_eq!(
            once,
            to_bytes(&named_vars(&vs, ""), FloatStorage::F32, &m3).unwrap()
        );
        assert_eq!(TensorFile::from_bytes(&once, &path).unwrap().metadata, m2);
        // Garbage → typed error.
        assert!(TensorFile::from_bytes(b"nonsense", &path).is_err());
    }
}
