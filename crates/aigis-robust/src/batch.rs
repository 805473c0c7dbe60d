//! Batches split into chunks of rows and run across cores. Every operator of the engine
//! treats rows independently, so the result is the same as one pass over the whole batch —
//! and the same whatever the number of threads.

use rayon::prelude::*;

use crate::{Error, Tensor};

/// Rows per chunk.
pub(crate) const CHUNK: usize = 32;

/// One chunk: its rows as a tensor and its offset (in values) in the batch.
pub(crate) struct Chunk {
    pub(crate) tensor: Tensor,
    pub(crate) offset: usize,
}

/// Apply `f` to chunks of `x`'s rows in parallel, in order.
pub(crate) fn map_rows<R: Send>(
    x: &Tensor,
    f: impl Fn(&Chunk) -> Result<R, Error> + Sync,
) -> Result<Vec<R>, Error> {
    let rows = x.shape.first().copied().unwrap_or(0);
    let per = x.data.len().checked_div(rows).unwrap_or(0);
    let chunks: Vec<Chunk> = (0..rows)
        .step_by(CHUNK)
        .map(|start| {
            let n = CHUNK.min(rows - start);
            let mut shape = x.shape.clone();
            if let Some(first) = shape.first_mut() {
                *first = n;
            }
            Chunk {
                tensor: Tensor {
                    shape,
                    data: x.data[start * per..(start + n) * per].to_vec(),
                },
                offset: start * per,
            }
        })
        .collect();
    if chunks.is_empty() {
        return Ok(vec![f(&Chunk {
            tensor: x.clone(),
            offset: 0,
        })?]);
    }
    chunks.par_iter().map(&f).collect()
}

/// Stack chunk results along the first dimension.
pub(crate) fn concat(parts: Vec<Tensor>) -> Result<Tensor, Error> {
    let mut it = parts.into_iter();
    let Some(mut out) = it.next() else {
        return Err(Error::Shape("an empty batch".into()));
    };
    for p in it {
        if p.shape.get(1..) != out.shape.get(1..) {
            return Err(Error::Shape(format!(
                "chunks of shapes {:?} and {:?}",
                out.shape, p.shape
            )));
        }
        out.data.extend_from_slice(&p.data);
        if let (Some(a), Some(b)) = (out.shape.first_mut(), p.shape.first()) {
            *a += b;
        }
    }
    Ok(out)
}
