//! 16: asyncio.as_completed hands out results in the order the tasks
//! finish, and gives up on the slow ones after a timeout (which never
//! cancels them).  Each item says which input it came from.
use weft::{Error, JoinHandle};

fn delay(seconds: f64) -> JoinHandle<weft::Result<f64>> {
    weft::spawn(async move {
        weft::sleep(seconds).await?;
        Ok(seconds)
    })
}

fn main() {
    let lp = weft::Loop::new_virtual().unwrap();
    lp.block_on(async {
        let tasks = [delay(0.3), delay(0.1), delay(0.2)];
        for next in weft::as_completed::<f64, _>(&tasks) {
            let (i, r) = next.await;
            println!("{} (task {})", r?, i.unwrap_or(99)); // first done, first out
        }

        let tasks = [delay(0.1), delay(0.6)];
        for next in weft::as_completed_timeout::<f64, _>(&tasks, 0.4) {
            match next.await {
                (Some(i), Ok(v)) => println!("{v} (task {i})"),
                (_, Err(e)) if e.is_timeout() => println!("timed out"), // delay(0.6) was too slow
                (_, r) => println!("unexpected {r:?}"),
            }
        }
        println!("the slow one still runs: {}", !tasks[1].is_finished());
        tasks[1].cancel();
        Ok::<(), Error>(())
    })
    .unwrap()
    .unwrap();
}

// Output:
// 0.1 (task 1)
// 0.2 (task 2)
// 0.3 (task 0)
// 0.1 (task 0)
// timed out
// the slow one still runs: true
