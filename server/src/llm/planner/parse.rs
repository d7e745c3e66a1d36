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

use std::fmt;

use serde_json::Number;

use crate::lang::fold;

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

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Num(Number),
    Plus,
    Minus,
    Star,
    Slash,
    LParen,
    RParen,
    /// `,` or `;` between items.
    Sep,
    Word(String),
    /// A symbol with no arithmetic meaning here (`^`, `%`): nothing may be guessed.
    Other,
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

fn lex(text: &str) -> Vec<Tok> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_ascii_digit() || (c == '.' && chars.get(i + 1).is_some_and(char::is_ascii_digit)) {
            let (number, next) = lex_number(&chars, i);
            tokens.extend(number.map(Tok::Num).or(Some(Tok::Other)));
            i = next;
            continue;
        }
        if c.is_alphabetic() {
            let start = i;
            while i < chars.len() && chars[i].is_alphabetic() {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            tokens.push(number_word(&word).map_or(Tok::Word(word), Tok::Num));
            continue;
        }
        let token = match c {
            '+' => Some(Tok::Plus),
            '-' | '−' | '–' => Some(Tok::Minus),
            '*' | '×' | '·' => Some(Tok::Star),
            '/' | '÷' => Some(Tok::Slash),
            '(' => Some(Tok::LParen),
            ')' => Some(Tok::RParen),
            ',' | ';' => Some(Tok::Sep),
            '^' | '%' | '&' | '|' | '<' | '>' | '[' | ']' | '{' | '}' => Some(Tok::Other),
            _ => None, // whitespace, `?`, `¿`, `=`, `.`, quotes, emoji: no meaning
        };
        tokens.extend(token);
        i += 1;
    }
    tokens
}

/// Reads a number starting at `start`: digits with an optional fraction after `.`, or
/// after `,` (Spanish decimals) unless the comma groups thousands (`1,000`).
fn lex_number(chars: &[char], start: usize) -> (Option<Number>, usize) {
    let digits_from = |mut i: usize| {
        while i < chars.len() && chars[i].is_ascii_digit() {
            i += 1;
        }
        i
    };
    let mut integer = String::new();
    let mut i = digits_from(start);
    integer.extend(&chars[start..i]);
    // Thousands groups: `,` then exactly three digits, then no further digit.
    while chars.get(i) == Some(&',') {
        let end = digits_from(i + 1);
        if end - (i + 1) == 3 && chars.get(end) != Some(&'.') {
            integer.extend(&chars[i + 1..end]);
            i = end;
        } else {
            break;
        }
    }
    let mut fraction = None;
    if matches!(chars.get(i), Some('.' | ',')) && chars.get(i + 1).is_some_and(char::is_ascii_digit)
    {
        let end = digits_from(i + 1);
        fraction = Some(chars[i + 1..end].iter().collect::<String>());
        i = end;
    }
    if integer.is_empty() {
        integer.push('0');
    }
    let number = match fraction {
        None => integer
            .parse::<i64>()
            .ok()
            .map(Number::from)
            .or_else(|| integer.parse::<f64>().ok().and_then(Number::from_f64)),
        Some(fraction) => format!("{integer}.{fraction}")
            .parse::<f64>()
            .ok()
            .and_then(Number::from_f64),
    };
    (number, i)
}

fn number_word(word: &str) -> Option<Number> {
    const WORDS: &[(&[&str], i64)] = &[
        (&["cero", "zero"], 0),
        (&["uno", "one"], 1),
        (&["dos", "two"], 2),
        (&["tres", "three"], 3),
        (&["cuatro", "four"], 4),
        (&["cinco", "five"], 5),
        (&["seis", "six"], 6),
        (&["siete", "seven"], 7),
        (&["ocho", "eight"], 8),
        (&["nueve", "nine"], 9),
        (&["diez", "ten"], 10),
        (&["once", "eleven"], 11),
        (&["doce", "twelve"], 12),
        (&["veinte", "twenty"], 20),
        (&["cien", "hundred"], 100),
    ];
    WORDS
        .iter()
        .find(|(names, _)| names.contains(&word))
        .map(|&(_, value)| Number::from(value))
}

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
fn infix(tokens: &[Tok], previous: Option<&Number>) -> Result<Expr, Unplanned> {
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

#[cfg(test)]
mod tests {
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
}
