//! TensorFlow `SavedModel` (`saved_model.pb`): lists the ops of every graph and function and
//! flags those that read, write or list files or run Python. The checkpoint ops every
//! `tf.saved_model.save` writes (`SaveV2`, `RestoreV2`, `MergeV2Checkpoints`, `ShardedFilename`, …)
//! are expected and not flagged.

use aigis_core::{Finding, Severity};

use super::protobuf::{Field, fields, text};
use crate::ctx::{Loc, Sink};
use crate::rules;

const FILE_OPS: &[&str] = &[
    "ReadFile",
    "WriteFile",
    "MatchingFiles",
    "MatchingFilesDataset",
    "ImmutableConst",
    "DebugIdentityV2",
    "DebugIdentityV3",
    "PrintV2",
    "CreateSummaryFileWriter",
    "WriteSummary",
    "WriteScalarSummary",
    "WriteRawProtoSummary",
    "Save",
    "SaveSlices",
    "TextLineDataset",
    "TFRecordDataset",
    "FixedLengthRecordDataset",
    "InitializeTableFromTextFile",
    "InitializeTableFromTextFileV2",
    "LoadAndRemapMatrix",
    "DecodeProtoV2",
    "ExperimentalDatasetToTFRecord",
    "DatasetToTFRecord",
];
const PY_OPS: &[&str] = &["PyFunc", "EagerPyFunc", "PyFuncStateless"];

pub(crate) fn is_saved_model(data: &[u8], name: &str) -> bool {
    let fname = name.rsplit(['/', '\\']).next().unwrap_or(name);
    if fname == "saved_model.pb" {
        return true;
    }
    // SavedModel has fields 1 (schema version) and 2 (meta graphs) only; ONNX has a graph at 7.
    let mut meta = false;
    for f in fields(data) {
        match f {
            Ok((1, Field::Varint(_))) => {}
            Ok((2, Field::Bytes(m))) => {
                meta |= fields(m).any(|x| matches!(x, Ok((2, Field::Bytes(_)))));
            }
            _ => return false,
        }
    }
    meta
}

/// A frozen `GraphDef`: repeated `NodeDefs` (field 1) each with a name and an op string.
pub(crate) fn is_graph_def(data: &[u8]) -> bool {
    let mut nodes = 0;
    for f in fields(data) {
        match f {
            Ok((1, Field::Bytes(node))) => {
                let ok = fields(node).any(|x| matches!(x, Ok((2, Field::Bytes(op))) if !op.is_empty() && op.iter().all(u8::is_ascii_alphanumeric)));
                if !ok {
                    return false;
                }
                nodes += 1;
            }
            Ok((2..=4, _)) => {}
            _ => return false,
        }
    }
    nodes > 0
}

/// Scan a frozen `GraphDef`.
pub(crate) fn scan_graph_def(sink: &mut Sink, loc: &Loc, data: &[u8]) {
    let mut ops = Vec::new();
    collect_ops(sink, loc, data, &mut ops, 0);
    report(sink, loc, ops);
}

fn collect_ops(sink: &mut Sink, loc: &Loc, graph: &[u8], ops: &mut Vec<String>, depth: u32) {
    for f in fields(graph) {
        match f {
            Ok((1, Field::Bytes(node))) => node_op(node, ops),
            Ok((2, Field::Bytes(lib))) if depth < 4 => {
                for lf in fields(lib) {
                    if let Ok((1, Field::Bytes(func))) = lf {
                        for ff in fields(func) {
                            if let Ok((3, Field::Bytes(node))) = ff {
                                node_op(node, ops);
                            }
                        }
                    }
                }
            }
            Err(_) => {
                sink.malformed(
                    loc.whole(),
                    "SavedModel graph",
                    "protobuf structure is damaged",
                );
                return;
            }
            _ => {}
        }
    }
}

fn node_op(node: &[u8], ops: &mut Vec<String>) {
    for f in fields(node) {
        if let Ok((2, Field::Bytes(op))) = f {
            let op = text(op);
            if !ops.contains(&op) && ops.len() < 4096 {
                ops.push(op);
            }
        }
    }
}

pub(crate) fn scan(sink: &mut Sink, loc: &Loc, data: &[u8]) {
    let mut ops = Vec::new();
    for f in fields(data) {
        match f {
            Ok((2, Field::Bytes(meta))) => {
                for mf in fields(meta) {
                    if let Ok((2, Field::Bytes(graph))) = mf {
                        collect_ops(sink, loc, graph, &mut ops, 0);
                    }
                }
            }
            Err(_) => {
                sink.malformed(loc.whole(), "SavedModel", "protobuf structure is damaged");
                break;
            }
            _ => {}
        }
    }
    report(sink, loc, ops);
}

fn report(sink: &mut Sink, loc: &Loc, ops: Vec<String>) {
    for op in ops {
        if PY_OPS.contains(&op.as_str()) {
            sink.push(
                Finding::new(
                    &rules::scn602::RULE,
                    format!("graph calls Python through {op}"),
                    loc.whole(),
                )
                .detail("PyFunc ops call a Python function registered in the loading process.")
                .evidence(op),
            );
        } else if FILE_OPS.contains(&op.as_str()) {
            sink.push(
                Finding::new(
                    &rules::scn601::RULE,
                    format!("graph uses file-system op {op}"),
                    loc.whole(),
                )
                .severity(Severity::High)
                .detail("Running the graph reads, writes or lists files on the serving host.")
                .evidence(op),
            );
        }
    }
}
