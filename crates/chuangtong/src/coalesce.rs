//! Coalescing: requests that wait at the same moment are served together.
//!
//! A flash claim brings thousands of requests in the same second, each
//! needing the same kind of database work (a credential look-up, a claim's
//! commit). Done one by one, every request pays a round trip and a commit;
//! done together, a batch pays them once. [`serve_in_batches`] is the loop
//! both the credential resolver (`auth::resolver`) and the claim desk
//! (`voucher::desk`) run: take the first waiting item, wait for a free slot,
//! add whatever queued meanwhile (up to a maximum), and hand the batch to a
//! task. Nothing waits for a batch to fill while nothing else is being
//! served: under light load a batch is one item, and it is served at once.

use std::future::Future;
use std::sync::Arc;

use tokio::sync::{mpsc, Notify, Semaphore};

/// How batches are formed.
#[derive(Clone, Copy, Debug)]
pub struct Batching {
    /// Most items in one batch.
    pub max: usize,
    /// Most batches served at once.
    pub in_flight: usize,
    /// Fewest items a batch needs to start *beside* another one; a smaller
    /// batch waits until more items arrive or the others are done. Every
    /// batch has a fixed cost (a round trip, a commit, its statements'
    /// planning), and on a busy machine many small batches cost more CPU
    /// than they save in waiting: with two claim desks on one PostgreSQL,
    /// four small groups at once were 10% slower than two large ones
    /// (bench/RESULTS.md). 1: never wait.
    pub min_beside: usize,
}

/// Serves what arrives on `rx` in batches formed by `batching`; returns
/// when every sender is gone.
pub async fn serve_in_batches<T, F, Fut>(mut rx: mpsc::Receiver<T>, batching: Batching, serve: F)
where
    T: Send + 'static,
    F: Fn(Vec<T>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let Batching {
        max,
        in_flight,
        min_beside,
    } = batching;
    let slots = Arc::new(Semaphore::new(in_flight));
    // Told whenever a batch is done (a stored wake-up at most: the loop re-checks).
    let done = Arc::new(Notify::new());
    let mut open = true;
    while open {
        let Some(first) = rx.recv().await else {
            return;
        };
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        // While waiting for a slot, more items queued: they join.
        let mut batch = vec![first];
        take_waiting(&mut rx, &mut batch, max);
        // Beside a batch being served, a small batch waits for company.
        while batch.len() < min_beside.min(max) && slots.available_permits() + 1 < in_flight {
            tokio::select! {
                item = rx.recv() => match item {
                    Some(item) => {
                        batch.push(item);
                        take_waiting(&mut rx, &mut batch, max);
                    }
                    None => {
                        open = false;
                        break;
                    }
                },
                _ = done.notified() => {}
            }
        }
        let served = serve(batch);
        let done = done.clone();
        tokio::spawn(async move {
            served.await;
            drop(slot);
            done.notify_one();
        });
    }
}

fn take_waiting<T>(rx: &mut mpsc::Receiver<T>, batch: &mut Vec<T>, max: usize) {
    while batch.len() < max {
        match rx.try_recv() {
            Ok(item) => batch.push(item),
            Err(_) => break,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::time::Duration;

    use super::*;

    /// Lets the loop run: everything here is in-memory and immediate.
    async fn settle() {
        tokio::time::sleep(Duration::from_millis(30)).await;
    }

    #[tokio::test]
    async fn a_small_batch_waits_beside_another_but_never_alone() {
        let (tx, rx) = mpsc::channel::<u32>(64);
        let served: Arc<Mutex<Vec<Vec<u32>>>> = Arc::default();
        // Each batch is held until the test lets one go.
        let gate = Arc::new(Semaphore::new(0));
        let batching = Batching {
            max: 10,
            in_flight: 2,
            min_beside: 3,
        };
        let (s, g) = (served.clone(), gate.clone());
        let task = tokio::spawn(serve_in_batches(rx, batching, move |batch| {
            s.lock().unwrap().push(batch);
            let g = g.clone();
            async move { g.acquire().await.unwrap().forget() }
        }));

        // Alone, one item is served at once.
        tx.send(1).await.unwrap();
        settle().await;
        assert_eq!(*served.lock().unwrap(), vec![vec![1]]);
        // Beside it, two items wait for a third.
        tx.send(2).await.unwrap();
        tx.send(3).await.unwrap();
        settle().await;
        assert_eq!(served.lock().unwrap().len(), 1);
        tx.send(4).await.unwrap();
        settle().await;
        assert_eq!(served.lock().unwrap()[1], vec![2, 3, 4]);
        // With both lanes busy, items queue; when one lane frees the waiting
        // items are few (2 < 3) but they wait only while another is served.
        tx.send(5).await.unwrap();
        tx.send(6).await.unwrap();
        settle().await;
        gate.add_permits(1); // one of the two batches is done
        settle().await;
        assert_eq!(
            served.lock().unwrap().len(),
            2,
            "beside the other batch, [5, 6] still waits"
        );
        gate.add_permits(1); // now nothing is being served
        settle().await;
        assert_eq!(served.lock().unwrap()[2], vec![5, 6]);

        gate.add_permits(1);
        drop(tx);
        tokio::time::timeout(Duration::from_secs(1), task)
            .await
            .unwrap()
            .unwrap();
    }
}
