//! The worker pool that parses and matches certificates off the async runtime.
//!
//! Jobs run on tokio's blocking threads, and a semaphore lets at most `size` of them run at
//! once. So the CT source keeps at most that many cores busy with parsing and matching,
//! however many logs it follows, and the runtime's threads stay free for I/O.

use std::sync::Arc;

use tokio::sync::Semaphore;

/// Handle to the pool. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Workers {
    permits: Arc<Semaphore>,
    size: usize,
}

impl Workers {
    /// Makes a pool of `size` threads; 0 means one per CPU.
    pub fn new(size: usize) -> Workers {
        let size = if size == 0 {
            std::thread::available_parallelism().map_or(1, usize::from)
        } else {
            size
        };
        Workers {
            permits: Arc::new(Semaphore::new(size)),
            size,
        }
    }

    /// Number of jobs that run at once.
    pub fn size(&self) -> usize {
        self.size
    }

    /// Runs `job` on a worker thread once one is free and returns its result.
    pub async fn run<T, F>(&self, job: F) -> Result<T, tokio::task::JoinError>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        // Nothing calls `close` on the semaphore, so acquiring cannot fail.
        let permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .expect("the worker semaphore is never closed");
        tokio::task::spawn_blocking(move || {
            let result = job();
            drop(permit);
            result
        })
        .await
    }
}
