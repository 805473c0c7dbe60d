//! Find code hidden in model files before anyone loads them.
//!
//! Formats are detected by content: pickle (protocols 0-5, through a symbolic machine that
//! never imports or calls anything), `PyTorch` zip/legacy/TorchScript, `NumPy` `.npy`/`.npz`,
//! joblib (plain and compressed), Keras `.keras` and `.h5`, TensorFlow `SavedModel`, ONNX, GGUF
//! (with chat-template analysis), safetensors, zip, tar and compressed streams, nested to a
//! bounded depth. A file that cannot be fully parsed is a finding, never a silent pass.
//!
//! ```
//! use aigis_scan::{scan_bytes, ScanOptions};
//! // A protocol-0 pickle that runs `os.system("id")` when loaded.
//! let (format, findings, _incomplete) = scan_bytes("evil.pkl", b"cos\nsystem\n(S'id'\ntR.", &ScanOptions::default());
//! assert_eq!(format, "pickle");
//! assert_eq!(findings[0].rule, "SCN101");
//! ```
#![deny(unsafe_code)]
#![warn(missing_docs)]

mod ctx;
mod formats;
mod lists;
mod reader;
pub mod rules;
mod source;
mod walk;

pub use ctx::ScanOptions;
pub use lists::Lists;
pub use walk::{SCHEMA, scan_paths};

use aigis_core::Finding;

/// Scan one in-memory blob as if it were a file called `name`. Returns the detected format,
/// the findings and whether any part could not be examined.
pub fn scan_bytes(
    name: &str,
    data: &[u8],
    opts: &ScanOptions,
) -> (&'static str, Vec<Finding>, bool) {
    let lists = if opts.extra_allow.is_empty() {
        None
    } else {
        Some(Lists::new(&opts.extra_allow))
    };
    let lists_ref = lists.as_ref().unwrap_or_else(|| Lists::builtin());
    let mut sink = ctx::Sink::new(opts, lists_ref);
    let loc = ctx::Loc::new(name);
    let format = formats::scan_blob(&mut sink, &loc, data, 0, name);
    (format, sink.findings, sink.incomplete)
}

/// Entry points for the fuzz targets (`fuzz/`): each runs one parser on arbitrary bytes.
/// Not part of the stable API.
#[doc(hidden)]
pub mod fuzzing {
    use crate::ctx::{Loc, ScanOptions, Sink};
    use crate::formats;
    use crate::lists::Lists;

    fn with_sink(f: impl FnOnce(&mut Sink, &Loc)) -> usize {
        let mut opts = ScanOptions {
            max_member_bytes: 16 << 20,
            max_total_bytes: 64 << 20,
            ..Default::default()
        };
        opts.max_pickle_values = 1 << 20;
        let mut sink = Sink::new(&opts, Lists::builtin());
        let loc = Loc::new("fuzz");
        f(&mut sink, &loc);
        sink.findings.len()
    }

    /// The pickle machine, including stacked streams.
    pub fn pickle(data: &[u8]) -> usize {
        with_sink(|s, l| {
            formats::pickle::scan_pickle_file(s, l, data, 0);
        })
    }

    /// The zip reader and member dispatch.
    pub fn zip(data: &[u8]) -> usize {
        with_sink(|s, l| {
            if let Some(ar) = formats::zip::Archive::open(s, l, data) {
                for e in &ar.entries {
                    let _ = ar.read(s, l, e);
                }
            }
        })
    }

    /// `NumPy` `.npy` headers.
    pub fn npy(data: &[u8]) -> usize {
        with_sink(|s, l| formats::numpy::scan_npy(s, l, data, 0))
    }

    /// GGUF metadata and chat templates.
    pub fn gguf(data: &[u8]) -> usize {
        with_sink(|s, l| formats::gguf::scan(s, l, data))
    }

    /// safetensors headers.
    pub fn safetensors(data: &[u8]) -> usize {
        with_sink(|s, l| {
            if formats::safetensors::looks_like(data) {
                formats::safetensors::scan(s, l, data);
            }
        })
    }

    /// ONNX and TensorFlow protobuf walkers.
    pub fn protobuf(data: &[u8]) -> usize {
        with_sink(|s, l| {
            formats::onnx::scan(s, l, data, "fuzz.onnx");
            formats::savedmodel::scan(s, l, data);
        })
    }

    /// The Jinja chat-template analyser and the MessagePack validator.
    pub fn template(data: &[u8]) -> usize {
        let _ = formats::msgpack::is_msgpack_map(data);
        std::str::from_utf8(data).map_or(0, |t| formats::jinja::analyse(t).len())
    }

    /// Everything, by content sniffing (what `aigis scan` does per file).
    pub fn any(data: &[u8]) -> usize {
        with_sink(|s, l| {
            formats::scan_blob(s, l, data, 0, "fuzz");
        })
    }
}
