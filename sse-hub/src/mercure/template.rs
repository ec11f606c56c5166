//! Matching strings against RFC 6570 URI templates: does some choice of
//! variable values expand the template into this string?
//!
//! RFC 6570 defines only expansion; matching is its inverse, decided here
//! by compiling the template into a regular expression of every string its
//! expansions can produce. The `regex` crate matches in time linear in the
//! string (no backtracking), so no template, however crafted, can make a
//! match slow; compiling is bounded by the template's length and a size
//! limit.
//!
//! What an expression can expand to, by operator (`U` unreserved
//! characters, `R` reserved ones, `%XX` percent-encoded octets; non-ASCII
//! characters count as unreserved, so IRIs match too):
//!
//! | expression | matches |
//! |---|---|
//! | `{x}`, `{x,y}` | `U`, `%XX` and `,` (lists), `=` too when exploded |
//! | `{+x}` | `U`, `R`, `%XX` |
//! | `{#x}` | nothing, or `#` then what `{+x}` matches |
//! | `{.x}`, `{/x}`, `{;x}` | repetitions of `.`, `/`, `;` followed by what `{x}` matches |
//! | `{?x,y}`, `{&x,y}` | nothing, or `?` (`&`) then `x=…`, `y=…` in order, each optional, joined by `&` |
//! | `{;x,y}` | `;x=…`, `;y=…` in order, each optional (`;x` for an empty value) |
//!
//! Named expressions (`;`, `?`, `&`) name their variables, so
//! `https://example.com/users/foo/{?topic}` matches `…/foo/?topic=…` and
//! never `…/foo/?other=…`. Where a named variable is exploded (`{?x*}`)
//! its keys are the value's own, so any keys match. Prefix modifiers
//! (`{x:3}`) are matched as the variable without them: a template matches
//! every expansion, and a few strings more, never fewer. Literal text
//! matches itself (it may be any character but `{` and `}`).

use regex::{Regex, RegexBuilder};

/// Largest compiled form of one template. Templates are bounded in length
/// before they get here; this is the backstop.
const COMPILED_SIZE_LIMIT: usize = 256 * 1024;

/// A URI template, compiled for matching.
#[derive(Clone, Debug)]
pub(crate) struct UriTemplate {
    source: Box<str>,
    regex: Regex,
}

/// Why a string is not a URI template with at least one expression.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum TemplateError {
    /// No `{…}` expression: a plain string, matched exactly.
    #[error("no expression")]
    NoExpression,
    /// A `{` without its `}`, or a `}` without its `{`.
    #[error("unbalanced braces")]
    Unbalanced,
    /// An expression that is not `{[operator]varspec,…}`.
    #[error("invalid expression {0:?}")]
    InvalidExpression(String),
    /// The compiled form is larger than the limit.
    #[error("too complex")]
    TooComplex,
}

impl UriTemplate {
    /// Compiles `source`.
    pub(crate) fn parse(source: &str) -> Result<UriTemplate, TemplateError> {
        let mut pattern = String::with_capacity(source.len() * 4 + 8);
        pattern.push_str(r"\A");
        let mut rest = source;
        let mut expressions = 0;
        while !rest.is_empty() {
            match rest.find(['{', '}']) {
                None => {
                    pattern.push_str(&regex::escape(rest));
                    rest = "";
                }
                Some(at) if rest.as_bytes()[at] == b'}' => return Err(TemplateError::Unbalanced),
                Some(at) => {
                    pattern.push_str(&regex::escape(&rest[..at]));
                    let inner = &rest[at + 1..];
                    let end = inner.find(['{', '}']).ok_or(TemplateError::Unbalanced)?;
                    if inner.as_bytes()[end] == b'{' {
                        return Err(TemplateError::Unbalanced);
                    }
                    expression(&inner[..end], &mut pattern)?;
                    expressions += 1;
                    rest = &inner[end + 1..];
                }
            }
        }
        if expressions == 0 {
            return Err(TemplateError::NoExpression);
        }
        pattern.push_str(r"\z");
        let regex = RegexBuilder::new(&pattern)
            .size_limit(COMPILED_SIZE_LIMIT)
            .dfa_size_limit(COMPILED_SIZE_LIMIT)
            .build()
            .map_err(|_| TemplateError::TooComplex)?;
        Ok(UriTemplate {
            source: source.into(),
            regex,
        })
    }

    /// The template as written.
    pub(crate) fn source(&self) -> &str {
        &self.source
    }

    /// Whether some expansion of the template is `text`.
    pub(crate) fn matches(&self, text: &str) -> bool {
        self.regex.is_match(text)
    }
}

/// One character of a variable's value as the simple operators expand it:
/// unreserved, percent-encoded, or beyond ASCII.
const UNRESERVED: &str = r"A-Za-z0-9\-._~";
const RESERVED: &str = r":/?#\[\]@!$&'()*+,;=";
const PCT: &str = r"%[0-9A-Fa-f]{2}";
const NON_ASCII: &str = r"[^\x00-\x7F]";

/// `(?:[<class>]|%XX|non-ASCII)*`: any run of value characters.
fn value(class: &str) -> String {
    format!("(?:[{class}]|{PCT}|{NON_ASCII})*")
}

struct Varspec<'a> {
    name: &'a str,
    explode: bool,
}

/// Appends the regex of the expression `inner` (between its braces).
fn expression(inner: &str, pattern: &mut String) -> Result<(), TemplateError> {
    let invalid = || TemplateError::InvalidExpression(format!("{{{inner}}}"));
    let (operator, list) = match inner.chars().next() {
        Some(op @ ('+' | '#' | '.' | '/' | ';' | '?' | '&')) => (Some(op), &inner[1..]),
        // Reserved for future extensions by RFC 6570: not a template.
        Some('=' | ',' | '!' | '@' | '|') | None => return Err(invalid()),
        Some(_) => (None, inner),
    };
    let vars = list
        .split(',')
        .map(|spec| varspec(spec).ok_or_else(invalid))
        .collect::<Result<Vec<_>, _>>()?;
    let exploded = vars.iter().any(|var| var.explode);
    let simple = value(&format!("{UNRESERVED},{}", if exploded { "=" } else { "" }));
    let with_eq = value(&format!("{UNRESERVED},="));
    match operator {
        None => pattern.push_str(&simple),
        Some('+') => pattern.push_str(&value(&format!("{UNRESERVED}{RESERVED}"))),
        Some('#') => {
            let reserved = value(&format!("{UNRESERVED}{RESERVED}"));
            pattern.push_str(&format!("(?:#{reserved})?"));
        }
        // `.` is itself unreserved, so one optional run covers every list.
        Some('.') => pattern.push_str(&format!(r"(?:\.{simple})?")),
        Some('/') => pattern.push_str(&format!("(?:/{simple})*")),
        Some(';') if exploded => pattern.push_str(&format!("(?:;{with_eq})*")),
        Some(op @ ('?' | '&')) if exploded => {
            let any = value(&format!("{UNRESERVED},=&"));
            pattern.push_str(&format!("(?:{}{any})?", regex::escape(&op.to_string())));
        }
        Some(op) => named(op, &vars, pattern),
    }
    Ok(())
}

/// `;`, `?` and `&` without explode: each variable as `name=value`, in
/// order, each one optional, joined by the separator; `?` and `&` start
/// with their operator only when some variable is there.
fn named(op: char, vars: &[Varspec<'_>], pattern: &mut String) {
    let value = value(&format!("{UNRESERVED},"));
    let item = |var: &Varspec<'_>| {
        let name = regex::escape(var.name);
        if op == ';' {
            // An empty value is `;name`, without `=`.
            format!("{name}(?:={value})?")
        } else {
            format!("{name}={value}")
        }
    };
    if op == ';' {
        for var in vars {
            pattern.push_str(&format!("(?:;{})?", item(var)));
        }
        return;
    }
    let sep = "&";
    let first = regex::escape(&op.to_string());
    // Which variable comes first decides where the operator goes.
    let alternatives: Vec<String> = (0..vars.len())
        .map(|first_present| {
            let mut alt = item(&vars[first_present]);
            for var in &vars[first_present + 1..] {
                alt.push_str(&format!("(?:{sep}{})?", item(var)));
            }
            alt
        })
        .collect();
    pattern.push_str(&format!("(?:{first}(?:{}))?", alternatives.join("|")));
}

/// `varname [":" max-length | "*"]`, or `None` if it is not one.
fn varspec(spec: &str) -> Option<Varspec<'_>> {
    let (name, explode) = match spec.strip_suffix('*') {
        Some(name) => (name, true),
        None => match spec.split_once(':') {
            Some((name, length)) => {
                let digits = length.as_bytes();
                let valid = (1..=4).contains(&digits.len())
                    && digits[0] != b'0'
                    && digits.iter().all(u8::is_ascii_digit);
                if !valid {
                    return None;
                }
                (name, false)
            }
            None => (spec, false),
        },
    };
    valid_varname(name).then_some(Varspec { name, explode })
}

/// `varchar *( ["."] varchar )`, varchar = ALPHA / DIGIT / "_" / pct-encoded.
fn valid_varname(name: &str) -> bool {
    let bytes = name.as_bytes();
    let mut at = 0;
    let mut after_char = false;
    while at < bytes.len() {
        match bytes[at] {
            b'%' if bytes.get(at + 1).is_some_and(u8::is_ascii_hexdigit)
                && bytes.get(at + 2).is_some_and(u8::is_ascii_hexdigit) =>
            {
                at += 3;
                after_char = true;
            }
            b'.' if after_char && at + 1 < bytes.len() => {
                at += 1;
                after_char = false;
            }
            byte if byte.is_ascii_alphanumeric() || byte == b'_' => {
                at += 1;
                after_char = true;
            }
            _ => return false,
        }
    }
    after_char
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(template: &str, text: &str) -> bool {
        UriTemplate::parse(template)
            .unwrap_or_else(|error| panic!("{template:?}: {error}"))
            .matches(text)
    }

    #[test]
    fn simple_expressions_match_one_unreserved_segment() {
        let books = "https://example.com/books/{id}";
        assert!(matches(books, "https://example.com/books/42"));
        assert!(matches(books, "https://example.com/books/a-b_c.d~e"));
        assert!(matches(books, "https://example.com/books/%2F1"));
        assert!(
            matches(books, "https://example.com/books/"),
            "an empty value"
        );
        assert!(matches(books, "https://example.com/books/1,2"), "a list");
        assert!(!matches(books, "https://example.com/books/42/reviews"));
        assert!(!matches(books, "https://example.com/books/4?2"));
        assert!(!matches(books, "https://example.com/book/42"));
        assert!(!matches(books, "xhttps://example.com/books/42"), "anchored");
        assert!(
            !matches(books, "https://example.com/books/42x/"),
            "anchored"
        );
        assert!(!matches(books, "https://example.com/books/%zz"));
        assert!(matches(books, "https://example.com/books/été"), "IRIs");
        let two = "https://example.com/{kind}/{id}";
        assert!(matches(two, "https://example.com/books/42"));
        assert!(!matches(two, "https://example.com/books/42/x"));
        assert!(matches("/users/{a,b}", "/users/x,y"));
        assert!(matches("/tags/{tags*}", "/tags/a=1,b=2"));
        assert!(
            !matches("/tags/{tags}", "/tags/a=1"),
            "= only when exploded"
        );
    }

    #[test]
    fn literal_text_is_matched_as_is_with_regex_characters_escaped() {
        assert!(matches("a.b+c(d)/{x}", "a.b+c(d)/1"));
        assert!(!matches("a.b+c(d)/{x}", "aXb+c(d)/1"));
        assert!(!matches("a.b+c(d)/{x}", "a.bbc(d)/1"));
        assert!(matches("[x]*{y}$", "[x]*1$"));
    }

    #[test]
    fn reserved_and_fragment_expansions_keep_reserved_characters() {
        assert!(matches(
            "https://example.com/{+path}",
            "https://example.com/a/b/c?d=1"
        ));
        assert!(matches(
            "https://example.com/files{#frag}",
            "https://example.com/files"
        ));
        assert!(matches(
            "https://example.com/files{#frag}",
            "https://example.com/files#a/b"
        ));
        assert!(!matches(
            "https://example.com/files{#frag}",
            "https://example.com/files/a"
        ));
    }

    #[test]
    fn label_and_path_expansions_repeat_their_prefix() {
        assert!(matches("example{.dom*}", "example.com.fr"));
        assert!(matches("example{.dom}", "example"));
        assert!(!matches("example{.dom}", "example/com"));
        assert!(matches(
            "https://example.com{/segments*}",
            "https://example.com/a/b/c"
        ));
        assert!(matches(
            "https://example.com{/a,b}",
            "https://example.com/x/y"
        ));
        assert!(matches("https://example.com{/a}", "https://example.com"));
        assert!(!matches(
            "https://example.com{/a}",
            "https://example.com/a?b"
        ));
    }

    #[test]
    fn named_expansions_name_their_variables_in_order() {
        let users = "https://example.com/users/foo/{?topic}";
        assert!(matches(
            users,
            "https://example.com/users/foo/?topic=https%3A%2F%2Fexample.com%2Fbooks%2F1"
        ));
        assert!(
            matches(users, "https://example.com/users/foo/"),
            "undefined"
        );
        assert!(matches(users, "https://example.com/users/foo/?topic="));
        assert!(!matches(users, "https://example.com/users/foo/?other=1"));
        assert!(!matches(
            users,
            "https://example.com/users/foo/?topic=a&other=1"
        ));
        assert!(
            !matches(users, "https://example.com/users/foo/?topic=a/b"),
            "unencoded /"
        );
        let both = "/search{?q,page}";
        for text in [
            "/search",
            "/search?q=a",
            "/search?page=2",
            "/search?q=a&page=2",
        ] {
            assert!(matches(both, text), "{text}");
        }
        assert!(!matches(both, "/search?page=2&q=a"), "out of order");
        assert!(!matches(both, "/search?"), "no operator alone");
        assert!(matches("/search?q=a{&page}", "/search?q=a&page=3"));
        assert!(matches("/map{;x,y}", "/map;x=1;y=2"));
        assert!(matches("/map{;x,y}", "/map;x;y=2"), "empty is ;name");
        assert!(!matches("/map{;x,y}", "/map;z=1"));
        assert!(matches("/q{?keys*}", "/q?a=1&b=2"), "exploded: any keys");
    }

    #[test]
    fn prefix_modifiers_match_like_the_whole_variable() {
        assert!(matches("/users/{id:3}", "/users/12345"));
        assert!(UriTemplate::parse("/users/{id:0}").is_err());
        assert!(UriTemplate::parse("/users/{id:10000}").is_err());
    }

    #[test]
    fn what_is_not_a_template_says_why() {
        assert_eq!(
            UriTemplate::parse("https://example.com/books/1").unwrap_err(),
            TemplateError::NoExpression
        );
        for unbalanced in ["/a/{id", "/a/id}", "/a/{{id}}", "/a/{i{d}"] {
            assert_eq!(
                UriTemplate::parse(unbalanced).unwrap_err(),
                TemplateError::Unbalanced,
                "{unbalanced}"
            );
        }
        for invalid in [
            "/{}", "/{=x}", "/{!x}", "/{x y}", "/{x-y}", "/{.}", "/{x.}", "/{x,}", "/{a..b}",
        ] {
            assert!(
                matches!(
                    UriTemplate::parse(invalid),
                    Err(TemplateError::InvalidExpression(_))
                ),
                "{invalid}"
            );
        }
        assert!(UriTemplate::parse("/{a.b}/{%41_9}").is_ok());
    }

    #[test]
    fn crafted_templates_stay_linear() {
        // Many adjacent expressions over the same characters: a backtracking
        // matcher would try every split of the string among them.
        let template = "{a}".repeat(30) + "!";
        let template = UriTemplate::parse(&template).expect("compiles");
        let text = "a".repeat(10_000);
        assert!(!template.matches(&text));
        assert!(template.matches(&(text + "!")));
        let long = "{x}/".repeat(2_000);
        assert!(
            matches!(
                UriTemplate::parse(&long),
                Ok(_) | Err(TemplateError::TooComplex)
            ),
            "a huge template compiles or is refused, never hangs"
        );
    }
}
