//! 13: asyncio.gather (seeds 001, 003): results in argument order, whatever
//! order the tasks finished in; with return_exceptions, every outcome.
use weft::Error;

fn main() {
    let lp = weft::Loop::new_virtual().unwrap();
    lp.block_on(async {
        let tasks: Vec<_> = [3.0, 1.0, 2.0]
            .into_iter()
            .map(|s| {
                weft::spawn(async move {
                    weft::sleep(s).await?;
                    println!("slept {s}");
                    Ok::<f64, Error>(s)
                })
            })
            .collect();
        println!("{:?}", weft::gather::<f64, _>(&tasks).await);
        let ok = weft::spawn(async { Ok::<i64, Error>(1) });
        let bad = weft::spawn(async { Err::<i64, Error>(Error::new(-2, Some("no such thing"))) });
        for r in weft::gather_settled::<i64, _>([&ok, &bad]).await.unwrap() {
            println!("{r:?}");
        }
    })
    .unwrap();
}

// Output:
// slept 1
// slept 2
// slept 3
// Ok([3.0, 1.0, 2.0])
// Ok(1)
// Err(Failed { code: Code(-2), message: Some("no such thing") })
