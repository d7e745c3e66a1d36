//! The infix reading: operator words mapped to symbols, filler dropped, and the rest
//! parsed by precedence climbing within [`MAX_NESTING`] and [`MAX_OPERATIONS`].

use serde_json::Number;

use super::{Expr, MAX_NESTING, MAX_OPERATIONS, Op, Unplanned, lex::Tok, negated};

/// Words that carry no meaning in an infix expression.
const FILLER: &[&str] = &[
    "what",
    "whats",
    "s",
    "is",
    "are",
    "how",
    "much",
    "calculate",
    "compute",
    "evaluate",
    "solve",
    "please",
    "tell",
    "me",
    "the",
    "result",
    "of",
    "equals",
    "equal",
    "to",
    "then",
    "and",
    "can",
    "you",
    "could",
    "would",
    "i",
    "want",
    "know",
    "cuanto",
    "cuanta",
    "es",
    "son",
    "calcula",
    "calcular",
    "calculame",
    "cual",
    "el",
    "la",
    "resultado",
    "de",
    "dime",
    "favor",
    "igual",
    "a",
    "y",
    "luego",
    "despues",
    "hey",
    "ok",
    "quiero",
    "saber",
    "operacion",
    "operation",
    "now",
    "ahora",
    "it",
    "lo",
    "eso",
    "that",
    "this",
    "esto",
];

/// Infix reading: maps operator words to symbols, drops filler, and parses the rest with
/// the usual precedence. Any word it cannot place makes the whole reading fail.
pub(super) fn infix(tokens: &[Tok], previous: Option<&Number>) -> Result<Expr, Unplanned> {
    let mut symbols = Vec::with_capacity(tokens.len());
    let mut i = 0;
    while i < tokens.len() {
        let token = &tokens[i];
        let next_word =
            |w: &[&str]| matches!(tokens.get(i + 1), Some(Tok::Word(n)) if w.contains(&n.as_str()));
        match token {
            Tok::Word(w) => match w.as_str() {
                "plus" | "mas" => symbols.push(Tok::Plus),
                "minus" | "menos" => symbols.push(Tok::Minus),
                "por" if next_word(&["favor"]) => i += 1,
                "times" | "por" | "x" | "veces" => symbols.push(Tok::Star),
                "over" | "entre" => symbols.push(Tok::Slash),
                "multiplied" | "multiplicado" => {
                    symbols.push(Tok::Star);
                    if next_word(&["by", "por"]) {
                        i += 1;
                    }
                }
                "divided" | "dividido" => {
                    symbols.push(Tok::Slash);
                    if next_word(&["by", "por", "entre"]) {
                        i += 1;
                    }
                }
                w if FILLER.contains(&w) => {}
                _ => return Err(Unplanned::NotUnderstood),
            },
            Tok::Sep => {}
            other => symbols.push(other.clone()),
        }
        i += 1;
    }
    // "… y ahora por 2": an expression that opens with an operator continues the
    // previous result.
    if let (Some(prev), Some(Tok::Plus | Tok::Star | Tok::Slash)) = (previous, symbols.first()) {
        symbols.insert(0, Tok::Num(prev.clone()));
    }
    let mut parser = Infix {
        tokens: &symbols,
        pos: 0,
        depth: 0,
        operations: 0,
        too_complex: false,
    };
    match parser.expr(0) {
        Some(expr) if parser.pos == symbols.len() => Ok(expr),
        _ if parser.too_complex => Err(Unplanned::TooComplex),
        _ => Err(Unplanned::NotUnderstood),
    }
}

/// Precedence climbing over symbol tokens, within [`MAX_NESTING`] and
/// [`MAX_OPERATIONS`].
struct Infix<'a> {
    tokens: &'a [Tok],
    pos: usize,
    /// Parentheses and signs open around the current position.
    depth: usize,
    /// Operations built so far.
    operations: usize,
    /// A limit was hit (the reading then fails as a whole).
    too_complex: bool,
}

impl Infix<'_> {
    fn peek_op(&self) -> Option<Op> {
        match self.tokens.get(self.pos)? {
            Tok::Plus => Some(Op::Add),
            Tok::Minus => Some(Op::Subtract),
            Tok::Star => Some(Op::Multiply),
            Tok::Slash => Some(Op::Divide),
            _ => None,
        }
    }

    fn expr(&mut self, min_prec: u8) -> Option<Expr> {
        let mut left = self.unary()?;
        while let Some(op) = self.peek_op().filter(|op| op.precedence() > min_prec) {
            self.pos += 1;
            let right = self.expr(op.precedence())?;
            left = self.bin(op, left, right)?;
        }
        Some(left)
    }

    /// One more operation, unless that is one too many.
    fn bin(&mut self, op: Op, left: Expr, right: Expr) -> Option<Expr> {
        self.operations += 1;
        if self.operations > MAX_OPERATIONS {
            self.too_complex = true;
            return None;
        }
        Some(Expr::bin(op, left, right))
    }

    /// A unary expression, one nesting level deeper.
    fn unary(&mut self) -> Option<Expr> {
        if self.depth >= MAX_NESTING {
            self.too_complex = true;
            return None;
        }
        self.depth += 1;
        let expr = self.unary_inner();
        self.depth -= 1;
        expr
    }

    fn unary_inner(&mut self) -> Option<Expr> {
        match self.tokens.get(self.pos)? {
            Tok::Minus => {
                self.pos += 1;
                match self.unary()? {
                    Expr::Num(n) => Some(Expr::Num(negated(&n))),
                    other => self.bin(Op::Multiply, Expr::Num(Number::from(-1)), other),
                }
            }
            Tok::Plus => {
                self.pos += 1;
                self.unary()
            }
            Tok::Num(n) => {
                self.pos += 1;
                Some(Expr::Num(n.clone()))
            }
            Tok::LParen => {
                self.pos += 1;
                let inner = self.expr(0)?;
                (self.tokens.get(self.pos) == Some(&Tok::RParen)).then(|| {
                    self.pos += 1;
                    inner
                })
            }
            _ => None,
        }
    }
}
