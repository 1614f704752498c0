//! NewsSearch's native helpers (Python module `newssearch_native`).
//!
//! tantivy-py hands search hits to Python as one object per hit, which is the floor of a
//! result set's exact lexical side (every paragraph matching each query word: ~0.25 us per
//! match, a million matches for a long claim at 1M paragraphs). This module opens the same
//! index directory with the same tantivy version and writes every match straight into a
//! numpy array, as its `vec_id` or as the position the caller's vec_id map gives it (the
//! article table's paragraph positions).
//!
//! Contracts (checked against the pure-Python paths by tests/test_native.py):
//! - A leaf is a list of clauses `(field, [(offset, token), ...])`: one token is a term,
//!   several a phrase at those relative positions (tokens are already analysed: no analyser
//!   runs here). A document matches the leaf when it matches any clause.
//! - `Matcher(path).vec_ids(leaves)`: per leaf, the `vec_id` of every live (not deleted)
//!   document of the reader's snapshot that matches it, each once; in segment order, doc id
//!   order within one. All leaves on one snapshot. Runs without the GIL.
//! - `Matcher.positions(leaves, map)`: the same matches as the positions `map` gives their
//!   vec_ids (int32, ascending, each once; matches whose vec_id is not one of its keys are
//!   left out). The per-segment doc -> position arrays are built once per (segment, map)
//!   and kept for the map last used.
//! - `mark(out, index, via=None)`: `out[index] = True` (or `out[via[index]] = True`), what
//!   numpy's fancy assignment does, in one pass; `IndexError` for an index out of range.
//! - `count(counts, leaves, via, paragraphs=None)`: per article `a`, `counts[a] +=` the
//!   number of `leaves` (arrays of paragraph positions) with a position `p` where
//!   `via[p] == a` (a leaf counts once per article however many of its paragraphs match),
//!   and `paragraphs[p] = True` for every position of every leaf; what summing numpy masks
//!   does, in one pass per leaf (twice as fast over sorted positions, as `Matcher.positions`
//!   gives them: the reads go in order); `IndexError` for an index out of range.
//! - `Matcher.reload()`: take the latest commit (the caller reloads when tantivy-py does).
//! - `PositionMap(keys, starts, shift, values).lookup(vec_ids)`: what `VecIdIndex.positions`
//!   (search_api/search/table.py) answers for the same arrays: the value of the key equal to
//!   each vec_id (its index in `keys` when `values` is None), -1 where none is.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use numpy::{IntoPyArray, PyArray1, PyReadonlyArray1, PyReadwriteArray1};
use pyo3::exceptions::{PyIndexError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use tantivy::index::SegmentId;
use tantivy::query::{EnableScoring, PhraseQuery, Query, TermQuery, Weight};
use tantivy::schema::{IndexRecordOption, Schema};
use tantivy::{DocId, Index, IndexReader, ReloadPolicy, Searcher, SegmentReader, Term};

type Clause = (String, Vec<(usize, String)>);

fn runtime(err: tantivy::TantivyError) -> PyErr {
    PyRuntimeError::new_err(err.to_string())
}

static NEXT_MAP: AtomicU64 = AtomicU64::new(1);

/// Sorted distinct non-negative vec_ids (a table's, sorted) with the bucket index of
/// `VecIdIndex`: the position of a vec_id is `values` at its index in `keys` (the index
/// itself without `values`).
#[pyclass(frozen)]
struct PositionMap {
    id: u64,
    keys: Vec<i64>,
    starts: Vec<i64>,
    shift: u32,
    values: Option<Vec<i64>>,
    /// One more than the largest position the map gives (0 when empty).
    span: usize,
}

impl PositionMap {
    fn find(&self, v: i64) -> i64 {
        if v < 0 || self.keys.is_empty() {
            return -1;
        }
        let keys = &self.keys;
        let mut at = self.starts[(v >> self.shift) as usize] as usize;
        while at < keys.len() && keys[at] < v {
            at += 1;
        }
        if at < keys.len() && keys[at] == v {
            self.values.as_ref().map_or(at as i64, |values| values[at])
        } else {
            -1
        }
    }
}

#[pymethods]
impl PositionMap {
    #[new]
    #[pyo3(signature = (keys, starts, shift, values=None))]
    fn new(
        keys: PyReadonlyArray1<'_, i64>,
        starts: PyReadonlyArray1<'_, i64>,
        shift: u32,
        values: Option<PyReadonlyArray1<'_, i64>>,
    ) -> PyResult<Self> {
        let keys = keys.as_slice()?.to_vec();
        let starts = starts.as_slice()?.to_vec();
        let values = values
            .map(|v| v.as_slice().map(<[i64]>::to_vec))
            .transpose()?;
        let limit = i32::MAX as i64;
        if keys.len() as i64 >= limit
            || values
                .as_ref()
                .is_some_and(|v| v.len() != keys.len() || v.iter().any(|&x| x < 0 || x >= limit))
        {
            return Err(PyValueError::new_err(
                "one value per key, each in 0..2**31-1",
            ));
        }
        if shift > 62 || starts.len() != (1usize << (63 - shift)) + 1 {
            return Err(PyValueError::new_err("starts does not fit shift"));
        }
        let sorted = keys.windows(2).all(|w| w[0] < w[1]) && keys.first().is_none_or(|&k| k >= 0);
        let bounded = starts.iter().all(|&s| s >= 0 && s as usize <= keys.len());
        if !sorted || !bounded {
            return Err(PyValueError::new_err(
                "keys must be sorted, distinct, non-negative",
            ));
        }
        let id = NEXT_MAP.fetch_add(1, Ordering::Relaxed);
        let span = values.as_ref().map_or(keys.len(), |v| {
            v.iter().max().map_or(0, |&m| m as usize + 1)
        });
        Ok(PositionMap {
            id,
            keys,
            starts,
            shift,
            values,
            span,
        })
    }

    /// The position of each vec_id (its value, or its index in keys), -1 where absent.
    fn lookup<'py>(
        &self,
        py: Python<'py>,
        vec_ids: PyReadonlyArray1<'py, i64>,
    ) -> PyResult<Bound<'py, PyArray1<i64>>> {
        let wanted = vec_ids.as_slice()?;
        let out: Vec<i64> = py.detach(|| wanted.iter().map(|&v| self.find(v)).collect());
        Ok(out.into_pyarray(py))
    }

    /// Number of keys.
    fn __len__(&self) -> usize {
        self.keys.len()
    }
}

/// Calls `emit` with every live document of `segment` matching any of `weights`, each once,
/// in doc id order.
fn each_match<F: FnMut(DocId)>(
    weights: &[Box<dyn Weight>],
    segment: &SegmentReader,
    mut emit: F,
) -> tantivy::Result<()> {
    let alive = segment.alive_bitset();
    if weights.len() == 1 {
        // One clause: its docs come in order and once each.
        return weights[0].for_each_no_score(segment, &mut |docs: &[DocId]| {
            for &doc in docs {
                if alive.is_none_or(|a| a.is_alive(doc)) {
                    emit(doc);
                }
            }
        });
    }
    let mut bits = vec![0u64; (segment.max_doc() as usize).div_ceil(64)];
    for weight in weights {
        weight.for_each_no_score(segment, &mut |docs: &[DocId]| {
            for &doc in docs {
                bits[(doc >> 6) as usize] |= 1u64 << (doc & 63);
            }
        })?;
    }
    for (w, &word) in bits.iter().enumerate() {
        let mut rest = word;
        while rest != 0 {
            let doc = (w as u32) * 64 + rest.trailing_zeros();
            rest &= rest - 1;
            if alive.is_none_or(|a| a.is_alive(doc)) {
                emit(doc);
            }
        }
    }
    Ok(())
}

fn clause_queries(schema: &Schema, clauses: &[Clause]) -> PyResult<Vec<Box<dyn Query>>> {
    let mut parts: Vec<Box<dyn Query>> = Vec::new();
    for (name, tokens) in clauses {
        let field = schema
            .get_field(name)
            .map_err(|_| PyValueError::new_err(format!("no field {name:?} in the index")))?;
        let mut terms: Vec<(usize, Term)> = tokens
            .iter()
            .map(|(offset, text)| (*offset, Term::from_field_text(field, text)))
            .collect();
        match terms.len() {
            0 => {}
            1 => {
                let (_, term) = terms.remove(0);
                parts.push(Box::new(TermQuery::new(term, IndexRecordOption::Basic)));
            }
            _ => parts.push(Box::new(PhraseQuery::new_with_offset(terms))),
        }
    }
    Ok(parts)
}

fn leaf_weights(
    searcher: &Searcher,
    schema: &Schema,
    leaves: &[Vec<Clause>],
) -> PyResult<Vec<Vec<Box<dyn Weight>>>> {
    let scoring = EnableScoring::disabled_from_searcher(searcher);
    leaves
        .iter()
        .map(|clauses| {
            clause_queries(schema, clauses)?
                .iter()
                .map(|q| q.weight(scoring).map_err(runtime))
                .collect::<PyResult<Vec<_>>>()
        })
        .collect()
}

type SegmentMaps = HashMap<SegmentId, Arc<Vec<i32>>>;

/// One numpy array per leaf's matches (or the search's error).
fn arrays<T: numpy::Element>(
    py: Python<'_>,
    found: tantivy::Result<Vec<Vec<T>>>,
) -> PyResult<Vec<Bound<'_, PyArray1<T>>>> {
    Ok(found
        .map_err(runtime)?
        .into_iter()
        .map(|v| v.into_pyarray(py))
        .collect())
}

/// A reader of one tantivy index directory (module docstring).
#[pyclass(frozen)]
struct Matcher {
    index: Index,
    reader: IndexReader,
    /// The map last used and its per-segment doc -> position arrays.
    maps: Mutex<(u64, SegmentMaps)>,
}

impl Matcher {
    /// doc -> position in `map` (-1: not a key) for every doc of `segment`.
    fn segment_map(
        &self,
        segment: &SegmentReader,
        map: &PositionMap,
    ) -> tantivy::Result<Arc<Vec<i32>>> {
        let id = segment.segment_id();
        {
            let mut maps = self.maps.lock().expect("maps lock");
            if maps.0 != map.id {
                *maps = (map.id, HashMap::new());
            }
            if let Some(found) = maps.1.get(&id) {
                return Ok(Arc::clone(found));
            }
        }
        let column = segment.fast_fields().i64("vec_id")?;
        let built: Vec<i32> = (0..segment.max_doc())
            .map(|doc| column.first(doc).map_or(-1, |v| map.find(v) as i32))
            .collect();
        let built = Arc::new(built);
        let mut maps = self.maps.lock().expect("maps lock");
        if maps.0 == map.id {
            maps.1.insert(id, Arc::clone(&built));
        }
        Ok(built)
    }
}

#[pymethods]
impl Matcher {
    #[new]
    fn new(path: &str) -> PyResult<Self> {
        let index = Index::open_in_dir(path).map_err(runtime)?;
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()
            .map_err(runtime)?;
        Ok(Matcher {
            index,
            reader,
            maps: Mutex::new((0, HashMap::new())),
        })
    }

    /// Take the latest commit of the directory (and forget maps of segments gone from it).
    fn reload(&self, py: Python<'_>) -> PyResult<()> {
        py.detach(|| self.reader.reload()).map_err(runtime)?;
        let searcher = self.reader.searcher();
        let live: Vec<SegmentId> = searcher
            .segment_readers()
            .iter()
            .map(|s| s.segment_id())
            .collect();
        self.maps
            .lock()
            .expect("maps lock")
            .1
            .retain(|id, _| live.contains(id));
        Ok(())
    }

    /// Live documents of the snapshot.
    fn num_docs(&self) -> u64 {
        self.reader.searcher().num_docs()
    }

    /// Per leaf (a list of clauses), the vec_ids of its matches, all on one snapshot.
    fn vec_ids<'py>(
        &self,
        py: Python<'py>,
        leaves: Vec<Vec<Clause>>,
    ) -> PyResult<Vec<Bound<'py, PyArray1<i64>>>> {
        let searcher = self.reader.searcher();
        let weights = leaf_weights(&searcher, &self.index.schema(), &leaves)?;
        let found = py.detach(|| -> tantivy::Result<Vec<Vec<i64>>> {
            let segments = searcher.segment_readers();
            let columns = segments
                .iter()
                .map(|s| s.fast_fields().i64("vec_id"))
                .collect::<tantivy::Result<Vec<_>>>()?;
            let mut out = Vec::with_capacity(weights.len());
            for leaf in &weights {
                let mut ids = Vec::new();
                for (segment, column) in segments.iter().zip(&columns) {
                    each_match(leaf, segment, |doc| {
                        if let Some(v) = column.first(doc) {
                            ids.push(v);
                        }
                    })?;
                }
                out.push(ids);
            }
            Ok(out)
        });
        arrays(py, found)
    }

    /// Per leaf, the positions `map` gives its matches (int32), all on one snapshot.
    fn positions<'py>(
        &self,
        py: Python<'py>,
        leaves: Vec<Vec<Clause>>,
        map: &PositionMap,
    ) -> PyResult<Vec<Bound<'py, PyArray1<i32>>>> {
        let searcher = self.reader.searcher();
        let weights = leaf_weights(&searcher, &self.index.schema(), &leaves)?;
        let found = py.detach(|| -> tantivy::Result<Vec<Vec<i32>>> {
            let segments = searcher.segment_readers();
            let maps = segments
                .iter()
                .map(|s| self.segment_map(s, map))
                .collect::<tantivy::Result<Vec<_>>>()?;
            let mut out = Vec::with_capacity(weights.len());
            // A bit per position (a 1M-paragraph table: 125 KB, cache-resident), read out in
            // order: the positions come sorted, so whatever reads by them reads in order.
            let mut bits = vec![0u64; map.span.div_ceil(64)];
            for leaf in &weights {
                let mut found = 0usize;
                for (segment, doc_map) in segments.iter().zip(&maps) {
                    each_match(leaf, segment, |doc| {
                        let at = doc_map[doc as usize];
                        if at >= 0 {
                            bits[(at >> 6) as usize] |= 1u64 << (at & 63);
                            found += 1;
                        }
                    })?;
                }
                let mut positions = Vec::with_capacity(found);
                for (w, word) in bits.iter_mut().enumerate() {
                    let mut rest = *word;
                    while rest != 0 {
                        positions.push((w as i32) * 64 + rest.trailing_zeros() as i32);
                        rest &= rest - 1;
                    }
                    *word = 0;
                }
                out.push(positions);
            }
            Ok(out)
        });
        arrays(py, found)
    }
}

/// `out[index] = True`, or `out[via[index]] = True` with `via` (module docstring).
#[pyfunction]
#[pyo3(signature = (out, index, via=None))]
fn mark(
    mut out: PyReadwriteArray1<'_, bool>,
    index: PyReadonlyArray1<'_, i32>,
    via: Option<PyReadonlyArray1<'_, i64>>,
) -> PyResult<()> {
    let out = out.as_slice_mut()?;
    let index = index.as_slice()?;
    let size = out.len();
    let range = || PyIndexError::new_err("an index is out of range");
    match via {
        None => {
            for &i in index {
                *out.get_mut(usize::try_from(i).map_err(|_| range())?)
                    .ok_or_else(range)? = true;
            }
        }
        Some(via) => {
            let via = via.as_slice()?;
            for &i in index {
                let at = *via
                    .get(usize::try_from(i).map_err(|_| range())?)
                    .ok_or_else(range)?;
                let at = usize::try_from(at).map_err(|_| range())?;
                if at >= size {
                    return Err(range());
                }
                out[at] = true;
            }
        }
    }
    Ok(())
}

/// Per article, how many `leaves` it has a paragraph in (module docstring).
#[pyfunction]
#[pyo3(signature = (counts, leaves, via, paragraphs=None))]
fn count(
    py: Python<'_>,
    mut counts: PyReadwriteArray1<'_, i64>,
    leaves: Vec<PyReadonlyArray1<'_, i32>>,
    via: PyReadonlyArray1<'_, i64>,
    mut paragraphs: Option<PyReadwriteArray1<'_, bool>>,
) -> PyResult<()> {
    let counts = counts.as_slice_mut()?;
    let via = via.as_slice()?;
    let leaves = leaves
        .iter()
        .map(|leaf| leaf.as_slice())
        .collect::<Result<Vec<_>, _>>()?;
    let mut paragraphs = match paragraphs.as_mut() {
        Some(p) => Some(p.as_slice_mut()?),
        None => None,
    };
    if let Some(p) = paragraphs.as_deref() {
        if p.len() < via.len() {
            return Err(PyValueError::new_err("paragraphs is shorter than via"));
        }
    }
    let size = counts.len();
    let range = || PyIndexError::new_err("an index is out of range");
    py.detach(|| {
        // Per leaf: its articles marked (stores only, as `mark`), then added in one
        // sequential pass that also clears the marks.
        let mut hit = vec![0u8; size];
        for leaf in &leaves {
            for &i in leaf.iter() {
                let i = usize::try_from(i).map_err(|_| range())?;
                let at = usize::try_from(*via.get(i).ok_or_else(range)?).map_err(|_| range())?;
                *hit.get_mut(at).ok_or_else(range)? = 1;
                if let Some(p) = paragraphs.as_deref_mut() {
                    p[i] = true;
                }
            }
            for (c, h) in counts.iter_mut().zip(hit.iter_mut()) {
                *c += i64::from(*h);
                *h = 0;
            }
        }
        Ok(())
    })
}

#[pymodule]
fn newssearch_native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Matcher>()?;
    m.add_class::<PositionMap>()?;
    m.add_function(wrap_pyfunction!(mark, m)?)?;
    m.add_function(wrap_pyfunction!(count, m)?)?;
    Ok(())
}
