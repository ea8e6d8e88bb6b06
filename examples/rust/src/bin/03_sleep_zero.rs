//! 03: `await asyncio.sleep(0)` hands control to the other tasks (seed 001).
//!
//!     async def a():
//!         print("Suspending a"); await asyncio.sleep(0); print("Resuming a")
//!     async def b():
//!         print("fn b")
//!     await asyncio.gather(a(), b())
fn main() {
    weft::run(async {
        let a = weft::spawn(async {
            println!("Suspending a");
            weft::yield_now().await; // or weft::sleep(0.0).await
            println!("Resuming a");
        });
        let b = weft::spawn(async { println!("fn b") });
        weft::gather::<(), _>([&a, &b]).await.unwrap();
    })
    .unwrap();
}

// Output:
// Suspending a
// fn b
// Resuming a
