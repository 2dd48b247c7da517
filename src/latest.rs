//! The most recent query of a session, behind `last_stats` / `last_query`: a convenience for
//! interactive use. Each result carries its own facts; this slot only remembers the latest.

use std::sync::{Arc, Mutex};

use pyo3::PyResult;

use crate::errors::EngineError;

pub struct Latest<T>(Arc<Mutex<Option<T>>>);

impl<T: Clone> Latest<T> {
    pub fn new() -> Self {
        Latest(Arc::new(Mutex::new(None)))
    }

    /// Another handle on the same slot (for a task that finishes later).
    pub fn handle(&self) -> Self {
        Latest(self.0.clone())
    }

    pub fn set(&self, value: T) {
        // A poisoned slot only held a previous value; overwrite it.
        let mut slot = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *slot = Some(value);
    }

    pub fn get(&self) -> PyResult<Option<T>> {
        self.0
            .lock()
            .map(|slot| slot.clone())
            .map_err(|_| EngineError::new_err("internal error: the last-query slot is poisoned"))
    }
}
