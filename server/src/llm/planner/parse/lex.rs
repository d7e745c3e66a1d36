//! The request's words and symbols as tokens: numbers (digits with `.` or `,`
//! decimals, thousands groups, number words in both languages), operator symbols,
//! parentheses, separators and words, with meaningless characters dropped.

use serde_json::Number;

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Tok {
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

pub(super) fn lex(text: &str) -> Vec<Tok> {
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
