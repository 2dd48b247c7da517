//! `Estimate`: what an Athena query would scan and cost, found before it runs, as a frozen class
//! with typed getters (the public dataclass in `spintrail.athena` is built from it).

use pyo3::prelude::*;
use spintrail_core::athena::Estimate as CoreEstimate;

#[pyclass(module = "spintrail._internal", frozen, name = "Estimate")]
pub struct Estimate(pub CoreEstimate);

#[pymethods]
impl Estimate {
    #[getter]
    fn objects(&self) -> u64 {
        self.0.objects
    }
    #[getter]
    fn bytes(&self) -> u64 {
        self.0.bytes
    }
    #[getter]
    fn billed_bytes(&self) -> u64 {
        self.0.billed_bytes
    }
    #[getter]
    fn cost_usd(&self) -> f64 {
        self.0.cost_usd
    }
    #[getter]
    fn raw_cost_usd(&self) -> f64 {
        self.0.raw_cost_usd
    }
    #[getter]
    fn price_per_tb(&self) -> f64 {
        self.0.price_per_tb
    }
    #[getter]
    fn tables(&self) -> Vec<String> {
        self.0.tables.clone()
    }
    #[getter]
    fn partitions(&self) -> u64 {
        self.0.partitions
    }
    #[getter]
    fn prefixes_listed(&self) -> u64 {
        self.0.prefixes_listed
    }
    #[getter]
    fn prefixes(&self) -> Vec<String> {
        self.0.prefixes.clone()
    }
    #[getter]
    fn complete(&self) -> bool {
        self.0.complete
    }
    #[getter]
    fn upper_bound(&self) -> bool {
        self.0.upper_bound
    }
    #[getter]
    fn notes(&self) -> Vec<String> {
        self.0.notes.clone()
    }
    fn __str__(&self) -> String {
        self.0.to_string()
    }
}
