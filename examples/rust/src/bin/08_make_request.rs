//! 08: a future resolved by another task, and a done callback (seed 004).
//!
//!     def make_request() -> Future:
//!         future = Future(); asyncio.create_task(set_future_value(future)); return future
use weft::Future;

fn make_request() -> Future<i64> {
    let future = weft::create_future::<i64>();
    let setter = future.clone();
    weft::spawn(async move {
        weft::sleep(1.0).await?;
        setter.set_result(42)
    })
    .detach();
    future
}

fn main() {
    let lp = weft::Loop::new_virtual().unwrap();
    lp.block_on(async {
        let future = make_request();
        future
            .add_done_callback(|f| println!("announce: the result is {:?}", f.result()))
            .unwrap();
        println!("future is done? {}", future.is_done());
        let value = future.clone().await.unwrap();
        println!("future is done? {}", future.is_done());
        println!("{value}");
    })
    .unwrap();
}

// Output:
// future is done? false
// announce: the result is Ok(42)
// future is done? true
// 42
