//! 35: blocking functions on the thread pool, awaited (asyncio
//! run_in_executor / to_thread): the loop keeps running meanwhile.  A job
//! that polls `weft::work_cancelled()` stops when its future is given up.
use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use weft::{Error, Local};

fn blocking_io(n: u64) -> i64 {
    std::thread::sleep(Duration::from_millis(10 * n)); // a call that blocks its thread
    n as i64 * 10
}

fn main() {
    let lp = weft::Loop::new().unwrap(); // real time: the jobs take real time
    lp.block_on(async {
        let lp = weft::current_loop()?;
        let ticks = Rc::new(Cell::new(0));
        let t2 = ticks.clone();
        let ticker = weft::spawn(async move {
            loop {
                t2.set(t2.get() + 1);
                weft::sleep(0.005).await?;
            }
            #[allow(unreachable_code)]
            Ok::<(), Error>(())
        });
        let a = lp.run_in_executor(|| blocking_io(3));
        let b = lp.run_in_executor(|| blocking_io(1));
        let c = weft::to_thread(|| blocking_io(2));
        // the jobs' futures are weft futures: gather reads their values
        let results = weft::gather::<i64, _>([a.future(), b.future(), c.future()]).await?;
        println!("{results:?}");
        println!("the loop ran the ticker meanwhile: {}", ticks.get() >= 1);

        // a job that checks for cancellation, given up after 0.05 s
        let counter = weft::to_thread(|| {
            let mut n = 0u64;
            while !weft::work_cancelled() {
                n += 1;
                std::thread::sleep(Duration::from_millis(1));
            }
            Local(n)
        });
        match weft::wait_for(counter, 0.05).await {
            Err(e) if e.is_timeout() => println!("gave up"),
            other => println!("unexpected {other:?}"),
        }

        // errors and panics come back as errors
        let failed =
            weft::to_thread(|| -> weft::Result<i64> { Err(Error::new(-5, Some("disk gone"))) })
                .await;
        println!("failed: {}", failed.unwrap_err());
        let panicked = weft::to_thread(|| -> i64 { panic!("bug in the job") }).await;
        println!("panicked: {}", panicked.unwrap_err().is_panic());
        ticker.cancel();
        Ok::<(), Error>(())
    })
    .unwrap()
    .unwrap();
}

// Output:
// [30, 10, 20]
// the loop ran the ticker meanwhile: true
// gave up
// failed: EIO (i/o error): disk gone
// panicked: true
