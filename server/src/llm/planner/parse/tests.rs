//! How requests in both languages read, and where reading stops.

use super::*;

fn show(text: &str) -> String {
    match parse(text, None) {
        Ok(expr) => expr.to_string(),
        Err(why) => format!("{why:?}"),
    }
}

#[test]
fn spanish_requests() {
    assert_eq!(show("Suma 10 y 5"), "10 + 5");
    assert_eq!(show("Suma 100 y 50"), "100 + 50");
    assert_eq!(show("Multiplica 6 por 7"), "6 × 7");
    assert_eq!(show("Resta 9 de 20"), "20 - 9");
    assert_eq!(show("Resta 20 menos 9"), "20 - 9");
    assert_eq!(show("Divide 10 entre 4"), "10 ÷ 4");
    assert_eq!(show("¿Cuánto es 20 menos 9?"), "20 - 9");
    assert_eq!(show("cuanto es 6 por 7, por favor"), "6 × 7");
    assert_eq!(show("¿Cuál es la suma de 10 y 5?"), "10 + 5");
    assert_eq!(show("Súmale 3 a 4"), "3 + 4");
    assert_eq!(show("suma dos y tres"), "2 + 3");
}

#[test]
fn english_requests() {
    assert_eq!(show("add 2 and 3"), "2 + 3");
    assert_eq!(show("multiply 6 by 7"), "6 × 7");
    assert_eq!(show("what is 12 divided by 4"), "12 ÷ 4");
    assert_eq!(show("What's 7 times 8?"), "7 × 8");
    assert_eq!(show("subtract 3 from 10"), "10 - 3");
    assert_eq!(show("the product of 6 and 7"), "6 × 7");
    assert_eq!(show("divide 10 by 4"), "10 ÷ 4");
    assert_eq!(show("what is five plus three"), "5 + 3");
}

#[test]
fn decimals_and_negatives_keep_their_form() {
    assert_eq!(show("Suma 2.5 y -1.5"), "2.5 + (-1.5)");
    assert_eq!(show("suma 2,5 y 3"), "2.5 + 3");
    assert_eq!(show("add -3 and 10"), "(-3) + 10");
    assert_eq!(show("-4 * -2"), "(-4) × (-2)");
    assert_eq!(show("1,000 + 1"), "1000 + 1");
    assert_eq!(show("add 10.0 and 1"), "10.0 + 1");
    let Ok(Expr::Bin(_, a, _)) = parse("add 10 and 5", None) else {
        panic!()
    };
    assert_eq!(serde_json::to_string(&*a_num(&a)).unwrap(), "10");
}

fn a_num(e: &Expr) -> Box<Number> {
    match e {
        Expr::Num(n) => Box::new(n.clone()),
        _ => panic!("not a number"),
    }
}

#[test]
fn chains_and_precedence() {
    assert_eq!(show("(10 + 5) * 3"), "(10 + 5) × 3");
    assert_eq!(show("2 + 3 * 4"), "2 + 3 × 4");
    assert_eq!(show("10 - 4 - 3"), "10 - 4 - 3");
    assert_eq!(show("10 - (4 - 3)"), "10 - (4 - 3)");
    assert_eq!(show("suma 10 y 5 y multiplica por 3"), "(10 + 5) × 3");
    assert_eq!(show("add 2 and 3, then multiply by 4"), "(2 + 3) × 4");
    assert_eq!(show("suma 1, 2 y 3"), "1 + 2 + 3");
    assert_eq!(show("10 dividido entre 2 y luego suma 3"), "10 ÷ 2 + 3");
    assert_eq!(show("resta 9 de 20 y divide entre 2"), "(20 - 9) ÷ 2");
}

#[test]
fn continues_from_a_previous_result() {
    let prev = Number::from(15);
    assert_eq!(
        parse("y multiplícalo por 2", Some(&prev))
            .unwrap()
            .to_string(),
        "15 × 2"
    );
    assert_eq!(
        parse("now divide it by 3", Some(&prev))
            .unwrap()
            .to_string(),
        "15 ÷ 3"
    );
    assert_eq!(
        parse("y ahora por 2", Some(&prev)).unwrap().to_string(),
        "15 × 2"
    );
    assert_eq!(
        parse("multiplícalo por 2", None),
        Err(Unplanned::NeedsTwoNumbers(Op::Multiply))
    );
}

#[test]
fn what_cannot_be_planned() {
    assert_eq!(parse("hola", None), Err(Unplanned::Greeting));
    assert_eq!(parse("Hello!", None), Err(Unplanned::Greeting));
    assert_eq!(
        parse("suma", None),
        Err(Unplanned::NeedsTwoNumbers(Op::Add))
    );
    assert_eq!(
        parse("suma 5", None),
        Err(Unplanned::NeedsTwoNumbers(Op::Add))
    );
    assert_eq!(
        parse("¿qué tiempo hace?", None),
        Err(Unplanned::NotUnderstood)
    );
    assert_eq!(parse("2 ^ 8", None), Err(Unplanned::NotUnderstood));
    assert_eq!(parse("I have 3 cats", None), Err(Unplanned::NotUnderstood));
    assert_eq!(parse("(1 + 2", None), Err(Unplanned::NotUnderstood));
    assert_eq!(parse("", None), Err(Unplanned::NotUnderstood));
    assert_eq!(parse("5", None).map(|e| e.to_string()), Ok("5".into()));
}

#[test]
fn nesting_and_length_are_bounded() {
    let nested = |depth: usize| format!("{}1{}", "(".repeat(depth), ")".repeat(depth));
    assert_eq!(show(&nested(MAX_NESTING - 1)), "1");
    assert_eq!(
        parse(&nested(MAX_NESTING), None),
        Err(Unplanned::TooComplex)
    );
    // Far past any stack: refused in time, without recursing that deep.
    assert_eq!(parse(&nested(200_000), None), Err(Unplanned::TooComplex));
    assert_eq!(
        parse(&format!("{}5", "-".repeat(100_000)), None),
        Err(Unplanned::TooComplex)
    );
    let sum = |terms: usize| vec!["1"; terms].join(" + ");
    assert!(parse(&sum(MAX_OPERATIONS + 1), None).is_ok());
    assert_eq!(
        parse(&sum(MAX_OPERATIONS + 2), None),
        Err(Unplanned::TooComplex)
    );
    assert_eq!(parse(&sum(100_000), None), Err(Unplanned::TooComplex));
    let listed = format!("suma {}", vec!["1"; 100_000].join(" y "));
    assert_eq!(parse(&listed, None), Err(Unplanned::TooComplex));
    let chained = format!("suma 1 y 1{}", " y suma 1".repeat(MAX_OPERATIONS));
    assert_eq!(parse(&chained, None), Err(Unplanned::TooComplex));
    let chained = format!("suma 1 y 1{}", " y suma 1".repeat(MAX_OPERATIONS - 1));
    assert!(parse(&chained, None).is_ok());
    let clause = format!("suma 1 y {}", nested(100_000));
    assert_eq!(parse(&clause, None), Err(Unplanned::TooComplex));
}
