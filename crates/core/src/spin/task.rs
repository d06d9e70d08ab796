//! Spawning on wit-bindgen's executor (spin-sdk 7, wit-bindgen 0.57). A task spawned while
//! a future is being polled joins the executor only after that poll, and nothing wakes the
//! executor for it: if every other future is waiting, the new task first runs at the next
//! unrelated event, or never. `spin_sdk::http::send` spawns the task that writes the request
//! body this way, so without help a request could wait for its own body. These helpers ask
//! the executor for one more pass at once (a yield), which polls the new task.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Spawns `fut` and lets it start before the caller goes on.
pub async fn spawn(fut: impl Future<Output = ()> + 'static) {
    spin_sdk::wasip3::spawn(fut);
    yield_now().await;
}

/// Lets every other ready task (including ones just spawned) run once.
pub async fn yield_now() {
    let mut yielded = false;
    std::future::poll_fn(|cx| {
        if yielded {
            return Poll::Ready(());
        }
        yielded = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    })
    .await
}

/// `fut`, with one extra pass of the executor after its first poll, for futures that spawn
/// work when first polled (`spin_sdk::http::send`).
pub fn kick<F: Future>(fut: F) -> Kick<F> {
    Kick {
        fut: Box::pin(fut),
        kicked: false,
    }
}

pub struct Kick<F> {
    fut: Pin<Box<F>>,
    kicked: bool,
}

impl<F: Future> Future for Kick<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let polled = self.fut.as_mut().poll(cx);
        if !self.kicked && polled.is_pending() {
            // Whatever the first poll spawned is polled on the next pass.
            self.kicked = true;
            cx.waker().wake_by_ref();
        }
        polled
    }
}
