//! The language of a user's message, so that the agent answers in kind.

pub use protocol::Lang;

/// Spanish, the language of the original system, when a message gives no clue (a
/// bare expression such as `(10 + 5) * 3`).
pub const DEFAULT: Lang = Lang::Es;

const SPANISH: &[&str] = &[
    "suma",
    "sumar",
    "sumale",
    "sumalo",
    "resta",
    "restar",
    "restale",
    "restalo",
    "multiplica",
    "multiplicar",
    "multiplicalo",
    "dividir",
    "dividelo",
    "entre",
    "por",
    "y",
    "de",
    "cuanto",
    "cuanta",
    "cual",
    "es",
    "son",
    "el",
    "la",
    "lo",
    "los",
    "las",
    "mas",
    "menos",
    "luego",
    "despues",
    "resultado",
    "hola",
    "gracias",
    "calcula",
    "calcular",
    "numero",
    "numeros",
    "veces",
    "dividido",
    "multiplicado",
    "que",
    "favor",
    "buenos",
    "buenas",
    "dias",
    "producto",
    "cociente",
    "quita",
    "agrega",
    "anade",
    "dime",
    "con",
    "para",
    "un",
    "una",
];

const ENGLISH: &[&str] = &[
    "add",
    "plus",
    "minus",
    "times",
    "and",
    "what",
    "whats",
    "is",
    "the",
    "by",
    "from",
    "of",
    "then",
    "result",
    "divided",
    "multiplied",
    "multiply",
    "subtract",
    "sum",
    "product",
    "hello",
    "hi",
    "hey",
    "thanks",
    "thank",
    "calculate",
    "compute",
    "how",
    "much",
    "please",
    "to",
    "it",
    "number",
    "numbers",
    "quotient",
    "difference",
    "over",
    "tell",
    "me",
    "with",
    "can",
    "you",
    "a",
    "an",
    "good",
    "morning",
];

/// Removes Spanish diacritics and lower-cases, so `Súmale` and `sumale` read the same.
pub fn fold(text: &str) -> String {
    text.chars()
        .flat_map(char::to_lowercase)
        .map(|c| match c {
            'á' | 'à' | 'ä' | 'â' => 'a',
            'é' | 'è' | 'ë' | 'ê' => 'e',
            'í' | 'ì' | 'ï' | 'î' => 'i',
            'ó' | 'ò' | 'ö' | 'ô' => 'o',
            'ú' | 'ù' | 'ü' | 'û' => 'u',
            other => other,
        })
        .collect()
}

/// Guesses the language of `text` from the words it uses.
pub fn detect(text: &str) -> Lang {
    let folded = fold(text);
    let (mut es, mut en) = (0u32, 0u32);
    for word in folded
        .split(|c: char| !c.is_alphanumeric() && c != 'ñ')
        .filter(|w| !w.is_empty())
    {
        es += u32::from(SPANISH.contains(&word));
        en += u32::from(ENGLISH.contains(&word));
    }
    if text.contains(['¿', '¡', 'ñ', 'á', 'é', 'í', 'ó', 'ú']) {
        es += 2;
    }
    if en > es { Lang::En } else { Lang::Es }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_both_languages() {
        for text in [
            "Suma 10 y 5",
            "Multiplica 6 por 7",
            "Resta 9 de 20",
            "Divide 10 entre 4",
            "hola",
            "¿Cuánto es 2 + 2?",
        ] {
            assert_eq!(detect(text), Lang::Es, "{text}");
        }
        for text in [
            "add 2 and 3",
            "multiply 6 by 7",
            "what is 12 divided by 4",
            "hello there",
            "divide 10 by 4",
        ] {
            assert_eq!(detect(text), Lang::En, "{text}");
        }
        assert_eq!(detect("(10 + 5) * 3"), Lang::Es);
    }
}
