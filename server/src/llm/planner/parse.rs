//! Reads an arithmetic request in Spanish or English into an expression tree.
//!
//! Two readings are tried. A *verb-led* request names its operation with a verb or noun
//! ("Suma 10 y 5", "subtract 3 from 10", "the product of 6 and 7") and may chain more
//! clauses that continue from the previous result ("… y multiplica por 3"). Anything
//! else is read as an *infix expression* whose operators may be symbols or words
//! ("(10 + 5) * 3", "what is 12 divided by 4", "cuánto es 20 menos 9").
//!
//! Requests are bounded however long the text is: at most [`MAX_OPERATIONS`]
//! operations and [`MAX_NESTING`] levels of parentheses and signs, checked while
//! reading, so neither the reader's recursion nor the tree it builds (and later walks
//! and drops recursively) can grow with the input.

mod infix;
mod lex;

use std::fmt;

use serde_json::Number;

use crate::lang::fold;

use self::{
    infix::infix,
    lex::{Tok, lex},
};

/// The most operations one request may ask for (each is a tool call and an LLM turn;
/// the agent's iteration cap stops far earlier).
pub const MAX_OPERATIONS: usize = 64;
/// The deepest nesting of parentheses and signs.
pub const MAX_NESTING: usize = 32;

/// An arithmetic operation, one per toolbox tool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Add,
    Subtract,
    Multiply,
    Divide,
}

impl Op {
    /// The toolbox tool that performs this operation.
    pub fn tool(self) -> &'static str {
        match self {
            Self::Add => "add",
            Self::Subtract => "subtract",
            Self::Multiply => "multiply",
            Self::Divide => "divide",
        }
    }

    pub fn symbol(self) -> &'static str {
        match self {
            Self::Add => "+",
            Self::Subtract => "-",
            Self::Multiply => "×",
            Self::Divide => "÷",
        }
    }

    fn precedence(self) -> u8 {
        match self {
            Self::Add | Self::Subtract => 1,
            Self::Multiply | Self::Divide => 2,
        }
    }
}

/// An arithmetic expression. Literals keep the number exactly as the user wrote it.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Num(Number),
    Bin(Op, Box<Expr>, Box<Expr>),
}

impl Expr {
    fn bin(op: Op, left: Expr, right: Expr) -> Self {
        Self::Bin(op, Box::new(left), Box::new(right))
    }

    fn fmt_in(&self, f: &mut fmt::Formatter<'_>, parent: u8, right_side: bool) -> fmt::Result {
        match self {
            Self::Num(n) if n.as_f64().is_some_and(|v| v < 0.0) && parent > 0 => write!(f, "({n})"),
            Self::Num(n) => write!(f, "{n}"),
            Self::Bin(op, left, right) => {
                let prec = op.precedence();
                let wrap = prec < parent || (prec == parent && right_side);
                if wrap {
                    f.write_str("(")?;
                }
                left.fmt_in(f, prec, false)?;
                write!(f, " {} ", op.symbol())?;
                right.fmt_in(f, prec, true)?;
                if wrap {
                    f.write_str(")")?;
                }
                Ok(())
            }
        }
    }
}

/// Shows the expression with the fewest parentheses that keep its meaning.
impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.fmt_in(f, 0, false)
    }
}

/// Why a request could not be turned into an expression.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unplanned {
    /// A greeting, with nothing to compute.
    Greeting,
    /// The operation is clear but a number is missing ("suma 5").
    NeedsTwoNumbers(Op),
    /// Nothing the planner can compute.
    NotUnderstood,
    /// More operations or nesting than the planner takes ([`MAX_OPERATIONS`],
    /// [`MAX_NESTING`]).
    TooComplex,
}

/// Reads `text`. `previous` is the result of the conversation's last calculation, which
/// a request may continue from ("now multiply it by 2").
pub fn parse(text: &str, previous: Option<&Number>) -> Result<Expr, Unplanned> {
    let tokens = lex(&fold(text));
    let has_number = tokens.iter().any(|t| matches!(t, Tok::Num(_)));
    if !has_number {
        let greeting = tokens
            .iter()
            .any(|t| matches!(t, Tok::Word(w) if GREETINGS.contains(&w.as_str())));
        if greeting {
            return Err(Unplanned::Greeting);
        }
        if let Some(op) = tokens.iter().find_map(verb) {
            return Err(Unplanned::NeedsTwoNumbers(op));
        }
        return Err(Unplanned::NotUnderstood);
    }
    if tokens.iter().any(|t| verb(t).is_some()) {
        verb_led(&tokens, previous)
    } else {
        infix(&tokens, previous)
    }
}

/// The number of operations in `expr`, counted without recursion.
fn operations(expr: &Expr) -> usize {
    let mut count = 0;
    let mut stack = vec![expr];
    while let Some(expr) = stack.pop() {
        if let Expr::Bin(_, left, right) = expr {
            count += 1;
            stack.push(left);
            stack.push(right);
        }
    }
    count
}

const GREETINGS: &[&str] = &[
    "hola",
    "hello",
    "hi",
    "hey",
    "buenas",
    "buenos",
    "saludos",
    "greetings",
];

/// The operation a word names when it leads a clause ("suma", "multiply", "product").
fn verb(token: &Tok) -> Option<Op> {
    let Tok::Word(word) = token else { return None };
    const ADD: &[&str] = &[
        "suma", "sumar", "sumale", "sumalo", "sumame", "sume", "agrega", "agregale", "anade",
        "anadele", "add", "sum", "total",
    ];
    const SUBTRACT: &[&str] = &[
        "resta",
        "restar",
        "restale",
        "restalo",
        "quita",
        "quitale",
        "sustrae",
        "subtract",
        "substract",
        "deduct",
        "difference",
        "diferencia",
    ];
    const MULTIPLY: &[&str] = &[
        "multiplica",
        "multiplicar",
        "multiplicalo",
        "multiplicale",
        "multiply",
        "product",
        "producto",
    ];
    const DIVIDE: &[&str] = &[
        "divide", "dividir", "dividelo", "dividele", "division", "quotient", "cociente",
    ];
    let word = word.as_str();
    [
        (ADD, Op::Add),
        (SUBTRACT, Op::Subtract),
        (MULTIPLY, Op::Multiply),
        (DIVIDE, Op::Divide),
    ]
    .into_iter()
    .find_map(|(words, op)| words.contains(&word).then_some(op))
}

/// Verb-led reading: an optional leading expression, then clauses each opened by a verb.
fn verb_led(tokens: &[Tok], previous: Option<&Number>) -> Result<Expr, Unplanned> {
    let first_verb = tokens
        .iter()
        .position(|t| verb(t).is_some())
        .unwrap_or(tokens.len());
    let lead = &tokens[..first_verb];
    let mut acc = if lead.iter().any(|t| matches!(t, Tok::Num(_))) {
        Some(infix(lead, None)?)
    } else {
        None
    };
    let mut rest = &tokens[first_verb..];
    while let Some((head, tail)) = rest.split_first() {
        let Some(op) = verb(head) else {
            return Err(Unplanned::NotUnderstood);
        };
        let end = tail
            .iter()
            .position(|t| verb(t).is_some())
            .unwrap_or(tail.len());
        let (operands, reversed) = clause_operands(op, &tail[..end])?;
        if operands.len() > MAX_OPERATIONS {
            return Err(Unplanned::TooComplex);
        }
        rest = &tail[end..];
        acc = Some(match (operands.len(), acc.take()) {
            (0, _) => return Err(Unplanned::NeedsTwoNumbers(op)),
            (1, base) => {
                let base = match base {
                    Some(base) => base,
                    None => Expr::Num(previous.cloned().ok_or(Unplanned::NeedsTwoNumbers(op))?),
                };
                let operand = operands
                    .into_iter()
                    .next()
                    .ok_or(Unplanned::NotUnderstood)?;
                if reversed {
                    Expr::bin(op, operand, base)
                } else {
                    Expr::bin(op, base, operand)
                }
            }
            (2, _) if reversed => {
                let mut it = operands.into_iter();
                let (subtrahend, minuend) = (it.next(), it.next());
                Expr::bin(
                    op,
                    minuend.ok_or(Unplanned::NotUnderstood)?,
                    subtrahend.ok_or(Unplanned::NotUnderstood)?,
                )
            }
            (_, _) => {
                let mut it = operands.into_iter();
                let first = it.next().ok_or(Unplanned::NotUnderstood)?;
                it.fold(first, |left, right| Expr::bin(op, left, right))
            }
        });
        if acc.as_ref().map_or(0, operations) > MAX_OPERATIONS {
            return Err(Unplanned::TooComplex);
        }
    }
    acc.ok_or(Unplanned::NotUnderstood)
}

/// Collects a clause's operands. `reversed` is set by "resta 9 de 20" / "subtract 3
/// from 10", where the first number named is the one taken away.
fn clause_operands(op: Op, tokens: &[Tok]) -> Result<(Vec<Expr>, bool), Unplanned> {
    let mut operands = Vec::new();
    let mut reversed = false;
    let mut negate = false;
    let mut i = 0;
    while i < tokens.len() {
        match &tokens[i] {
            Tok::Num(n) => {
                operands.push(Expr::Num(if negate { negated(n) } else { n.clone() }));
                negate = false;
            }
            // A sign directly before a number, where no operand has just been read.
            Tok::Minus
                if matches!(tokens.get(i + 1), Some(Tok::Num(_)))
                    && !matches!(
                        tokens.get(i.wrapping_sub(1)),
                        Some(Tok::Num(_) | Tok::RParen)
                    ) =>
            {
                negate = true;
            }
            Tok::LParen => {
                let close = matching_paren(tokens, i).ok_or(Unplanned::NotUnderstood)?;
                operands.push(infix(&tokens[i + 1..close], None)?);
                i = close;
            }
            Tok::Word(w)
                if op == Op::Subtract && operands.len() == 1 && (w == "de" || w == "from") =>
            {
                reversed = true;
            }
            Tok::Other => return Err(Unplanned::NotUnderstood),
            // Separators and connecting words: "y", "and", "por", "by", ",", "entre", …
            _ => {}
        }
        i += 1;
    }
    Ok((operands, reversed))
}

fn matching_paren(tokens: &[Tok], open: usize) -> Option<usize> {
    let mut depth = 0usize;
    for (i, token) in tokens.iter().enumerate().skip(open) {
        match token {
            Tok::LParen => depth += 1,
            Tok::RParen => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
    }
    None
}

fn negated(n: &Number) -> Number {
    if let Some(i) = n.as_i64().and_then(i64::checked_neg) {
        Number::from(i)
    } else {
        n.as_f64()
            .and_then(|v| Number::from_f64(-v))
            .unwrap_or_else(|| n.clone())
    }
}

#[cfg(test)]
mod tests;
