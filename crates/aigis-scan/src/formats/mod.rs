//! Format detection (by content, never by extension) and dispatch to one module per format.
#![forbid(unsafe_code)] // parsers and the scan driver: no exceptions (the one mmap lives in source.rs)

pub(crate) mod compress;
pub(crate) mod gguf;
pub(crate) mod hdf5;
pub(crate) mod jinja;
pub(crate) mod keras;
pub(crate) mod msgpack;
pub(crate) mod numpy;
pub(crate) mod onnx;
pub(crate) mod pickle;
pub(crate) mod protobuf;
pub(crate) mod safetensors;
pub(crate) mod savedmodel;
pub(crate) mod skops;
pub(crate) mod tar;
pub(crate) mod text;
pub(crate) mod torch;
pub(crate) mod zip;

use aigis_core::Finding;

use crate::ctx::{Loc, Sink};
use crate::rules;

/// What the first bytes say a blob is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Empty,
    Zip,
    Npy,
    Gguf,
    Hdf5,
    SevenZ,
    Rar,
    Gzip,
    Bzip2,
    Xz,
    Lzma,
    Zlib,
    Lz4,
    Zstd,
    JoblibZf,
    Tar,
    Safetensors,
    Pickle,
    Protobuf,
    /// A LevelDB-format table (TensorFlow checkpoint `variables.index`).
    SsTable,
    Text,
    Media,
    /// Datasets and other data containers that hold no code (Parquet, Arrow, MessagePack, TFLite, GGML).
    Data(&'static str),
    /// Native executables and shared libraries.
    Executable(&'static str),
    Unknown,
}

/// Decide what `data` is from its content alone.
pub(crate) fn sniff(data: &[u8]) -> Kind {
    let starts = |m: &[u8]| data.starts_with(m);
    if data.is_empty() {
        return Kind::Empty;
    }
    if starts(b"PK\x03\x04") || starts(b"PK\x05\x06") {
        return Kind::Zip;
    }
    if starts(b"\x93NUMPY") {
        return Kind::Npy;
    }
    if starts(b"GGUF") {
        return Kind::Gguf;
    }
    if hdf5::signature_offset(data).is_some() {
        return Kind::Hdf5;
    }
    if starts(b"7z\xbc\xaf\x27\x1c") {
        return Kind::SevenZ;
    }
    if starts(b"Rar!\x1a\x07") {
        return Kind::Rar;
    }
    if starts(b"\x1f\x8b") {
        return Kind::Gzip;
    }
    if starts(b"BZh") && data.len() > 4 && (b'1'..=b'9').contains(&data[3]) {
        return Kind::Bzip2;
    }
    if starts(b"\xfd7zXZ\x00") {
        return Kind::Xz;
    }
    if starts(b"\x04\x22\x4d\x18") {
        return Kind::Lz4;
    }
    if starts(b"\x28\xb5\x2f\xfd") {
        return Kind::Zstd;
    }
    if starts(b"ZF0x") {
        return Kind::JoblibZf;
    }
    if data.len() >= 2
        && data[0] == 0x78
        && (u16::from(data[0]) << 8 | u16::from(data[1])) % 31 == 0
    {
        return Kind::Zlib;
    }
    // joblib's "lzma" compressor writes the legacy .lzma header: properties 0x5d, dict size.
    if data.len() >= 13 && data[0] == 0x5d && data[1] == 0 && data[2] == 0 {
        return Kind::Lzma;
    }
    if data.len() > 262 && &data[257..262] == b"ustar" {
        return Kind::Tar;
    }
    if safetensors::looks_like(data) {
        return Kind::Safetensors;
    }
    if pickle::looks_like_pickle(data) {
        return Kind::Pickle;
    }
    if data.len() >= 48 && data.ends_with(&[0x57, 0xfb, 0x80, 0x8b, 0x24, 0x75, 0x47, 0xdb]) {
        return Kind::SsTable;
    }
    if starts(b"\x89PNG\r\n\x1a\n")
        || starts(b"\xff\xd8\xff")
        || starts(b"GIF8")
        || starts(b"%PDF-")
        || starts(b"RIFF")
        || starts(b"fLaC")
        || starts(b"ID3")
        || starts(b"OggS")
    {
        return Kind::Media;
    }
    if starts(b"\x7fELF") {
        return Kind::Executable("ELF");
    }
    if starts(b"MZ") && data.len() > 0x40 {
        return Kind::Executable("PE");
    }
    if starts(&[0xcf, 0xfa, 0xed, 0xfe])
        || starts(&[0xce, 0xfa, 0xed, 0xfe])
        || starts(&[0xfe, 0xed, 0xfa, 0xcf])
    {
        return Kind::Executable("Mach-O");
    }
    if starts(b"PAR1") && data.ends_with(b"PAR1") {
        return Kind::Data("parquet");
    }
    if starts(b"ARROW1") {
        return Kind::Data("arrow");
    }
    if data.len() >= 8 && &data[4..8] == b"TFL3" {
        return Kind::Data("tflite");
    }
    if starts(b"lmgg") || starts(b"tjgg") || starts(b"fmgg") {
        return Kind::Data("ggml");
    }
    if msgpack::is_msgpack_map(data) {
        return Kind::Data("msgpack");
    }
    if text::is_text(data) {
        return Kind::Text;
    }
    if protobuf::looks_like_message(data) {
        return Kind::Protobuf;
    }
    if zip::is_zip(data) {
        return Kind::Zip;
    }
    Kind::Unknown
}

/// Whether `data` is a LevelDB-format table (a TensorFlow checkpoint index).
pub(crate) fn sniff_is_tf_index(data: &[u8]) -> bool {
    sniff(data) == Kind::SsTable
}

/// Scan one blob (a file or an archive member) and return the name of its format.
pub(crate) fn scan_blob(
    sink: &mut Sink,
    loc: &Loc,
    data: &[u8],
    depth: u32,
    name: &str,
) -> &'static str {
    if depth > sink.opts.max_depth {
        sink.limit(
            loc.whole(),
            format!("nested more than {} levels deep", sink.opts.max_depth),
        );
        return "nested";
    }
    if sink.out_of_time(loc) {
        return "unscanned";
    }
    match sniff(data) {
        Kind::Empty => "empty",
        Kind::Zip => zip_kind(sink, loc, data, depth),
        Kind::Npy => {
            numpy::scan_npy(sink, loc, data, depth);
            "numpy"
        }
        Kind::Gguf => {
            gguf::scan(sink, loc, data);
            "gguf"
        }
        Kind::Hdf5 => hdf5::scan(sink, loc, data),
        k @ (Kind::SevenZ | Kind::Rar | Kind::Bzip2 | Kind::Lz4 | Kind::Zstd) => {
            let what = match k {
                Kind::SevenZ => "7z",
                Kind::Rar => "rar",
                Kind::Bzip2 => "bzip2",
                Kind::Lz4 => "lz4",
                _ => "zstd",
            };
            sink.push(
                Finding::new(&rules::scn004::RULE, format!("{what} container cannot be opened; its contents were not checked"), loc.whole())
                    .detail("Some loaders (py7zr in older scanners' paths, joblib with lz4/bz2) unpack these; \
                             repack as zip or uncompressed, or scan the unpacked files.")
                    .evidence(what),
            );
            sink.incomplete = true;
            what
        }
        Kind::Gzip | Kind::Xz | Kind::Lzma | Kind::Zlib | Kind::JoblibZf => {
            compress::scan(sink, loc, data, depth, name)
        }
        Kind::Tar => tar::scan(sink, loc, data, depth),
        Kind::Safetensors => {
            safetensors::scan(sink, loc, data);
            "safetensors"
        }
        Kind::Pickle => {
            let (legacy, joblib) = torch::scan_raw_pickle(sink, loc, data, depth);
            if legacy {
                "pytorch-legacy"
            } else if joblib {
                "joblib"
            } else {
                "pickle"
            }
        }
        Kind::Protobuf => {
            if savedmodel::is_saved_model(data, name) {
                savedmodel::scan(sink, loc, data);
                "tf-savedmodel"
            } else if onnx::looks_like_onnx(data) {
                onnx::scan(sink, loc, data, name);
                "onnx"
            } else if savedmodel::is_graph_def(data) {
                savedmodel::scan_graph_def(sink, loc, data);
                "tf-graphdef"
            } else {
                // Some other protobuf message (SentencePiece models, fingerprints): data only,
                // and protobuf has no way to name code. TF-Keras SavedModels keep layer
                // configs (Lambda bytecode included) as JSON inside keras_metadata.pb.
                if hdf5::scan_embedded_keras(sink, loc, data) {
                    "keras-metadata"
                } else {
                    "protobuf"
                }
            }
        }
        Kind::Text => text::scan(sink, loc, data, name),
        Kind::Media => "media",
        Kind::Data(what) => what,
        Kind::Executable(what) => {
            sink.push(
                Finding::new(&rules::scn006::RULE, format!("{what} executable or shared library"), loc.whole())
                    .detail("Native code shipped with a model runs with the loader's privileges once anything loads it \
                             (custom-op libraries, bundled tools).")
                    .evidence(what),
            );
            "executable"
        }
        Kind::SsTable => {
            // Keys and BundleEntryProto records: names, dtypes, shapes, offsets. No code.
            sink.tf_index = true;
            "tf-checkpoint-index"
        }
        Kind::Unknown => unknown(sink, loc, data),
    }
}

pub(crate) use aigis_core::fsutil::hex;

fn unknown(sink: &mut Sink, loc: &Loc, data: &[u8]) -> &'static str {
    let head = hex(&data[..data.len().min(8)]);
    sink.push(
        Finding::new(&rules::scn002::RULE, "binary content of unknown format; not checked", loc.whole())
            .detail("aigis recognises model formats by content. A file no parser accepts cannot be vouched for.")
            .evidence(format!("first bytes {head}")),
    );
    "unknown"
}

/// Scan an archive whose member `config` is a JSON document checked by `check`; every other
/// member is scanned by content (Keras `config.json`, skops `schema.json`).
pub(crate) fn scan_zip_with_config(
    sink: &mut Sink,
    loc: &Loc,
    ar: &zip::Archive,
    depth: u32,
    config: &str,
    check: fn(&mut Sink, &Loc, &serde_json::Value),
) {
    for e in &ar.entries {
        let mloc = loc.child(&e.name);
        let Some(bytes) = ar.read(sink, &mloc, e) else {
            continue;
        };
        if e.name == config {
            match serde_json::from_slice::<serde_json::Value>(&bytes) {
                Ok(v) => check(sink, &mloc, &v),
                Err(err) => sink.malformed(mloc.whole(), config, &err.to_string()),
            }
        } else {
            scan_blob(sink, &mloc, &bytes, depth + 1, &e.name);
        }
    }
}

fn zip_kind(sink: &mut Sink, loc: &Loc, data: &[u8], depth: u32) -> &'static str {
    let Some(ar) = zip::Archive::open(sink, loc, data) else {
        sink.malformed(loc.whole(), "zip archive", "no readable member");
        return "zip";
    };
    // Bytes in front of the first member: polyglot files (a pickle with a zip appended).
    let prefix = ar.prefix();
    if !prefix.is_empty() {
        sink.push(
            Finding::new(&rules::scn205::RULE, "data precedes the first zip member", loc.at(0))
                .detail("A file that is both something else and a zip can load differently in different tools; the prefix was scanned.")
                .evidence(format!("{} bytes", prefix.len())),
        );
        let ploc = loc.child("<zip prefix>");
        scan_blob(sink, &ploc, prefix, depth + 1, "");
    }
    let names: Vec<&str> = ar.entries.iter().map(|e| e.name.as_str()).collect();
    let mut seen = std::collections::HashSet::new();
    for e in &ar.entries {
        zip::check_name(sink, loc, &e.name);
        if let Some(l) = &e.local_name {
            sink.push(
                Finding::new(&rules::scn201::RULE, "zip member's local and central names differ", loc.whole())
                    .detail("Different readers pick different names; scanners keyed on one can miss the member.")
                    .evidence(format!("central {:?}, local {:?}", e.name, l)),
            );
        }
        if !seen.insert(e.name.as_str()) {
            sink.push(
                Finding::new(
                    &rules::scn201::RULE,
                    "zip holds two members with the same name",
                    loc.whole(),
                )
                .detail("Readers disagree on which copy wins; both were scanned.")
                .evidence(&e.name),
            );
        }
    }
    if torch::is_torch_zip(&names) {
        return torch::scan_zip(sink, loc, &ar, depth);
    }
    if keras::is_keras_zip(&names) {
        scan_zip_with_config(sink, loc, &ar, depth, "config.json", keras::check_config);
        return "keras";
    }
    if skops::is_skops(&names) {
        scan_zip_with_config(sink, loc, &ar, depth, "schema.json", skops::check_schema);
        return "skops";
    }
    let npz = names.iter().all(|n| n.ends_with(".npy"));
    for e in &ar.entries {
        if sink.out_of_time(loc) {
            break;
        }
        let mloc = loc.child(&e.name);
        if let Some(bytes) = ar.read(sink, &mloc, e) {
            scan_blob(sink, &mloc, &bytes, depth + 1, &e.name);
        }
    }
    if npz { "numpy-npz" } else { "zip" }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_by_content_not_name() {
        assert_eq!(sniff(b"\x80\x04K\x01."), Kind::Pickle);
        assert_eq!(sniff(b"PK\x03\x04rest"), Kind::Zip);
        assert_eq!(sniff(b"GGUF\x03\x00\x00\x00"), Kind::Gguf);
        assert_eq!(sniff(b"hello world\n"), Kind::Text);
        assert_eq!(sniff(b""), Kind::Empty);
        assert_eq!(sniff(&[0xde, 0xad, 0xbe, 0xef, 0x00, 0x01]), Kind::Unknown);
    }
}
