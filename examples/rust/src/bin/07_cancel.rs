//! 07: cancelling a long task (seed 004): the task sees the cancellation at
//! its await, cleans up, and its awaiter gets Error::Cancelled with the message.
fn main() {
    let lp = weft::Loop::new_virtual().unwrap();
    lp.block_on(async {
        let long = weft::spawn(async {
            println!("long task: working");
            match weft::sleep(10.0).await {
                Err(e) if e.is_cancelled() => {
                    println!("long task: cancelled, cleaning up");
                    Err(e) // propagate: the task ends cancelled
                }
                r => r.map(|_| 1i64),
            }
        });
        weft::sleep(1.0).await.unwrap();
        println!("main: cancel -> {}", long.cancel_with_message("enough"));
        println!("main: {:?}", long.await);
    })
    .unwrap();
}

// Output:
// long task: working
// main: cancel -> true
// long task: cancelled, cleaning up
// main: Err(Cancelled(Some("enough")))
