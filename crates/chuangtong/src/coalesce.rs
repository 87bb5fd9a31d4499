//! Coalescing: requests that wait at the same moment are served together.
//!
//! A flash claim brings thousands of requests in the same second, each
//! needing the same kind of database work (a credential look-up, a claim's
//! commit). Done one by one, every request pays a round trip and a commit;
//! done together, a batch pays them once. [`serve_in_batches`] is the loop
//! both the credential resolver (`auth::resolver`) and the claim desk
//! (`voucher::desk`) run: take the first waiting item, wait for a free slot,
//! add whatever queued meanwhile (up to a maximum), and hand the batch to a
//! task. Nothing waits for a batch to fill: under light load a batch is one
//! item, and it is served at once.

use std::future::Future;
use std::sync::Arc;

use tokio::sync::{mpsc, Semaphore};

/// Serves what arrives on `rx` in batches of at most `max`, with at most
/// `in_flight` batches being served at once; returns when every sender is gone.
pub async fn serve_in_batches<T, F, Fut>(mut rx: mpsc::Receiver<T>, max: usize, in_flight: usize, serve: F)
where
    T: Send + 'static,
    F: Fn(Vec<T>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let slots = Arc::new(Semaphore::new(in_flight));
    while let Some(first) = rx.recv().await {
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        // While waiting for a slot, more items queued: they join.
        let mut batch = vec![first];
        while batch.len() < max {
            match rx.try_recv() {
                Ok(item) => batch.push(item),
                Err(_) => break,
            }
        }
        let served = serve(batch);
        tokio::spawn(async move {
            served.await;
            drop(slot);
        });
    }
}
