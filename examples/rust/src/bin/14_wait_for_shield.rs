//! 14: wait_for and shield (seeds 001, 003, 004): a timeout cancels the slow
//! task; a shielded task survives the cancellation of its awaiter.
fn main() {
    let lp = weft::Loop::new_virtual().unwrap();
    lp.block_on(async {
        let slow = weft::spawn(async {
            weft::sleep(10.0).await?;
            Ok::<i64, weft::Error>(1)
        });
        let t = slow.task().unwrap();
        match weft::wait_for(slow, 1.0).await {
            Err(e) if e.is_timeout() => println!("timed out; the task is {:?}", t.state()),
            other => println!("{other:?}"),
        }
        let precious = weft::spawn(async {
            weft::sleep(3.0).await?;
            println!("precious work finished");
            Ok::<i64, weft::Error>(2)
        });
        let pt = precious.task().unwrap();
        let awaiter = weft::spawn(async move { weft::shield(precious).await });
        weft::sleep(1.0).await.unwrap();
        awaiter.cancel();
        println!("awaiter: {:?}", awaiter.await);
        println!("precious: {:?}", pt.future::<i64>().await);
    })
    .unwrap();
}

// Output:
// timed out; the task is Cancelled
// awaiter: Err(Cancelled(None))
// precious work finished
// precious: Ok(2)
