//! Every construct `#[workflow]` lowers, each checked for its output and the number of times
//! each step ran, uninterrupted and resumed from every stored state (see `support`).

use cairn::{Context, workflow};
use serde::{Deserialize, Serialize};

use super::support;
use super::{Backend, fresh_store};
use support::{check_restarts, ran};

async fn double(x: u64) -> Result<u64, String> {
    ran("double");
    Ok(x * 2)
}

async fn add(a: u64, b: u64) -> Result<u64, String> {
    ran("add");
    Ok(a + b)
}

async fn pair(x: u64) -> Result<(u64, String), String> {
    ran("pair");
    Ok((x, format!("n{x}")))
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
struct Point {
    x: u64,
    y: u64,
}

async fn point(x: u64) -> Result<Point, String> {
    ran("point");
    Ok(Point { x, y: x + 1 })
}

async fn is_even(x: u64) -> Result<bool, String> {
    ran("is_even");
    Ok(x.is_multiple_of(2))
}

async fn at_most(x: u64, limit: u64) -> Result<u64, String> {
    ran("at_most");
    if x > limit {
        Err(format!("{x} is over {limit}"))
    } else {
        Ok(x)
    }
}

/// Straight-line code: `let` with and without a type, tuple and struct destructuring,
/// shadowing, a `let mut` updated across awaits, a step with an explicit name.
#[workflow]
async fn straight_line(ctx: &mut Context, n: u64) -> Result<(u64, String, u64), String> {
    let a = ctx.task(double, n).await?;
    let b: u64 = ctx.task(add, a, 1).await?;
    let (x, label) = ctx.task(pair, b).await?;
    let Point { x: px, y: py } = ctx.task(point, x).await?;
    let a = a + px;
    let mut total = a;
    total += ctx.task(double, py).await?;
    let total = total
        + ctx
            .step("bump", async move {
                ran("bump");
                Ok::<u64, String>(1)
            })
            .await?;
    Ok((total, label, a))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn straight_line_code() {
    // n = 3: a = 6, b = 7, (7, "n7"), Point { 7, 8 }, a = 13, total = 13 + 16 + 1.
    let stored = check_restarts(
        straight_line,
        3,
        Ok((30, "n7".to_owned(), 13)),
        &[
            ("add", 1),
            ("bump", 1),
            ("double", 2),
            ("pair", 1),
            ("point", 1),
        ],
    )
    .await;
    assert_eq!(stored, 6);
}

/// Workflows with no input and with several.
#[workflow]
async fn no_input(ctx: &mut Context) -> Result<u64, String> {
    let a = ctx.task(double, 21).await?;
    Ok(a)
}

#[workflow]
async fn two_inputs(ctx: &mut Context, a: u64, b: String) -> Result<String, String> {
    let d = ctx.task(double, a).await?;
    Ok(format!("{b}{d}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inputs() {
    check_restarts(no_input, (), Ok(42), &[("double", 1)]).await;
    check_restarts(
        two_inputs,
        (4, "x".to_owned()),
        Ok("x8".to_owned()),
        &[("double", 1)],
    )
    .await;
}

/// Branches: awaits in conditions, in `if`/`else` branches and `match` arms, in expression
/// position, in a value-producing `if` and block, and behind `||`.
#[workflow]
async fn branches(ctx: &mut Context, n: u64) -> Result<Vec<u64>, String> {
    let mut out = Vec::new();
    if ctx.task(is_even, n).await? {
        let d = ctx.task(double, n).await?;
        out.push(d);
    } else {
        out.push(n);
    }
    let kind = match n % 3 {
        0 => ctx.task(add, n, 100).await?,
        1 => {
            let d = ctx.task(double, n).await?;
            d + 1
        }
        _ => 7,
    };
    out.push(kind);
    let x = ctx.task(add, ctx.task(double, n).await?, 5).await?;
    out.push(x);
    let y = if n > 3 { ctx.task(double, n).await? } else { 0 };
    out.push(y);
    let z = u64::from(ctx.task(is_even, n + 1).await?) + ctx.task(double, 1).await?;
    out.push(z);
    if n > 100 || ctx.task(is_even, n).await? {
        out.push(1);
    }
    let block = {
        let t = ctx.task(add, n, n).await?;
        t + 1
    };
    out.push(block);
    let maybe = if n == 5 { None } else { Some(n) };
    let from_match = match maybe {
        Some(v) if v > 3 => ctx.task(double, v).await?,
        Some(v) => v,
        None => ctx.task(add, 0, 0).await?,
    };
    out.push(from_match);
    Ok(out)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn branches_every_path() {
    // n = 4: even, 4 % 3 == 1, n > 3, 5 is odd, 4 is even, match Some(4) > 3.
    check_restarts(
        branches,
        4,
        Ok(vec![8, 9, 13, 8, 2, 1, 9, 8]),
        &[("add", 2), ("double", 6), ("is_even", 3)],
    )
    .await;
    // n = 3: odd, 3 % 3 == 0, n <= 3, 4 is even, 3 is odd, match Some(3) <= 3.
    check_restarts(
        branches,
        3,
        Ok(vec![3, 103, 11, 0, 3, 7, 3]),
        &[("add", 3), ("double", 2), ("is_even", 3)],
    )
    .await;
    // n = 5: odd, 5 % 3 == 2, n > 3, 6 is even, 5 is odd, match None.
    check_restarts(
        branches,
        5,
        Ok(vec![5, 7, 15, 10, 3, 11, 0]),
        &[("add", 3), ("double", 3), ("is_even", 3)],
    )
    .await;
}

/// Loops: `for` over a Vec and a range, `while`, `loop` with a value, `continue`, labels,
/// nested loops.
#[workflow]
async fn loops(ctx: &mut Context, items: Vec<u64>) -> Result<u64, String> {
    let mut sum = 0;
    for item in items {
        if item == 0 {
            continue;
        }
        sum += ctx.task(double, item).await?;
    }
    for i in 0..3u64 {
        sum += ctx.task(add, i, 1).await?;
    }
    let mut countdown = 3;
    while countdown > 0 {
        countdown -= 1;
        sum += ctx.task(double, countdown).await?;
    }
    let mut tries = 0;
    let found = loop {
        tries += 1;
        let even = ctx.task(is_even, sum + tries).await?;
        if even {
            break tries;
        }
    };
    sum += found * 1000;
    'outer: for row in 0..3u64 {
        let mut col = 0u64;
        loop {
            col += 1;
            if col > 2 {
                continue 'outer;
            }
            if row == 2 {
                break 'outer;
            }
            sum += ctx.task(add, row * 10, col).await?;
        }
    }
    Ok(sum)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loops_of_every_kind() {
    // items: 2*(1+2) = 6; range: 1+2+3 = 6 -> 12; while: 2*(2+1+0) = 6 -> 18;
    // loop: 18+1 odd, 18+2 even -> tries = 2 -> 2018; nested: 1+2+11+12 = 26 -> 2044.
    check_restarts(
        loops,
        vec![1, 0, 2],
        Ok(2044),
        &[("add", 7), ("double", 5), ("is_even", 2)],
    )
    .await;
}

/// `?` and early `return` inside loops and branches.
#[workflow]
async fn early(ctx: &mut Context, limit: u64) -> Result<u64, String> {
    let mut total = 0;
    for x in vec![1u64, 2, 3, 4] {
        total += ctx.task(at_most, x, limit).await?;
        if total >= 6 {
            return Ok(total * 100);
        }
    }
    if total == 0 {
        return Err("nothing".to_owned());
    }
    Ok(total)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn early_return_and_question_mark() {
    check_restarts(early, 10, Ok(600), &[("at_most", 3)]).await;
    check_restarts(early, 2, Err("3 is over 2".to_owned()), &[("at_most", 3)]).await;
}

/// The order in which the parts of one expression ran, for the evaluation-order test.
static ORDER: std::sync::Mutex<Vec<&'static str>> = std::sync::Mutex::new(Vec::new());

fn mark(label: &'static str) -> u64 {
    ORDER.lock().unwrap().push(label);
    1
}

async fn traced(label: &'static str) -> Result<u64, String> {
    ran(label);
    ORDER.lock().unwrap().push(label);
    Ok(10)
}

/// Parts of an expression evaluated before an await still run before it.
#[workflow]
async fn evaluation_order(ctx: &mut Context) -> Result<(u64, u64, Vec<u64>), String> {
    let sum = mark("left") + ctx.task(traced, "right").await?;
    let call = u64::max(mark("first arg"), ctx.task(traced, "second arg").await?);
    let list = vec![mark("element 0"), 2, 3];
    let mut items = list.clone();
    items.push(ctx.task(traced, "pushed").await? + mark("after"));
    Ok((sum, call, items))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn awaits_keep_the_evaluation_order() {
    let _serial = support::serial().await;
    let store = fresh_store();
    let runtime = store.runtime().register(evaluation_order).start().unwrap();
    ORDER.lock().unwrap().clear();
    let output = runtime.client().run(evaluation_order, ()).await.unwrap();
    runtime.shutdown().await;
    assert_eq!(output, (11, 10, vec![1, 2, 3, 11]));
    assert_eq!(
        *ORDER.lock().unwrap(),
        [
            "left",
            "right",
            "first arg",
            "second arg",
            "element 0",
            "pushed",
            "after"
        ]
    );
}
