//! `calculator`: a safe arithmetic evaluator (a hand-written Pratt parser, no code execution).

use argus_core::{Tool, ToolContext, ToolPolicy};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Number;

use crate::Error;

/// Longest expression accepted, in characters.
const MAX_CHARS: usize = 10_000;
/// Deepest nesting of parentheses, unary signs, powers and function calls.
const MAX_DEPTH: usize = 64;
/// Integers up to this magnitude print without a fraction (2^53: exact in an `f64`).
const MAX_EXACT_INT: f64 = 9_007_199_254_740_992.0;

/// Arguments of [`Calculator`].
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CalculatorArgs {
    /// Arithmetic expression, e.g. `2 * (3 + 4) ^ 2 / sqrt(16)`. Operators: + - * / ^ %;
    /// functions: sqrt abs sin cos tan (radians) ln log10 exp floor ceil round min max;
    /// constants: pi e.
    #[schemars(length(min = 1))]
    pub expression: String,
}

/// Evaluates arithmetic expressions exactly as a pocket calculator would.
///
/// ```
/// use argus_tools::Calculator;
///
/// assert_eq!(Calculator::evaluate("2 + 3 * 4").unwrap(), 14.0);
/// assert_eq!(Calculator::evaluate("-2 ^ 2").unwrap(), -4.0);
/// assert!(Calculator::evaluate("1 / 0").is_err());
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct Calculator;

impl Calculator {
    /// Evaluates `expression`: syntax errors come first (with their 1-based character
    /// position), then the first arithmetic error (division by zero, overflow, undefined).
    pub fn evaluate(expression: &str) -> Result<f64, Error> {
        let chars: Vec<char> = expression.chars().collect();
        if chars.len() > MAX_CHARS {
            return Err(Error::Syntax {
                position: MAX_CHARS + 1,
                message: format!("the expression is longer than {MAX_CHARS} characters"),
            });
        }
        let tokens = tokenize(&chars)?;
        let mut parser = Parser {
            tokens,
            next: 0,
            end: chars.len() + 1,
            math_error: None,
        };
        if parser.tokens.is_empty() {
            return Err(syntax(1, "the expression is empty"));
        }
        let value = parser.expression(0, 0)?;
        if let Some(token) = parser.peek() {
            let message = match token.kind {
                Kind::Close => "unmatched `)`".to_string(),
                _ => format!("unexpected {}", token.kind.describe()),
            };
            return Err(syntax(token.position, message));
        }
        match parser.math_error {
            Some(error) => Err(error),
            None => Ok(value),
        }
    }
}

impl Tool for Calculator {
    const NAME: &'static str = "calculator";
    type Args = CalculatorArgs;
    type Output = Number;
    type Error = Error;

    fn description(&self) -> String {
        "Evaluates an arithmetic expression and returns the number. Use it for any \
         calculation instead of computing in your head."
            .into()
    }

    async fn call(&self, args: CalculatorArgs, _ctx: ToolContext) -> Result<Number, Error> {
        Calculator::evaluate(&args.expression).map(to_number)
    }

    fn policy(&self) -> ToolPolicy {
        ToolPolicy::read_only().with_timeout(std::time::Duration::from_secs(1))
    }
}

/// Integral values become JSON integers (`4`, not `4.0`).
fn to_number(value: f64) -> Number {
    if value.fract() == 0.0 && value.abs() <= MAX_EXACT_INT {
        // In range and integral: the conversion is exact.
        #[allow(clippy::cast_possible_truncation)]
        return Number::from(value as i64);
    }
    Number::from_f64(value).unwrap_or_else(|| Number::from(0))
}

fn syntax(position: usize, message: impl Into<String>) -> Error {
    Error::Syntax {
        position,
        message: message.into(),
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Kind {
    Number(f64),
    Name(String),
    Op(char),
    Open,
    Close,
    Comma,
}

impl Kind {
    fn describe(&self) -> String {
        match self {
            Kind::Number(n) => format!("number `{n}`"),
            Kind::Name(name) => format!("name `{name}`"),
            Kind::Op(op) => format!("`{op}`"),
            Kind::Open => "`(`".into(),
            Kind::Close => "`)`".into(),
            Kind::Comma => "`,`".into(),
        }
    }
}

#[derive(Debug, Clone)]
struct Token {
    kind: Kind,
    /// 1-based character position.
    position: usize,
}

fn tokenize(chars: &[char]) -> Result<Vec<Token>, Error> {
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let position = i + 1;
        let kind = if c.is_whitespace() {
            i += 1;
            continue;
        } else if c.is_ascii_digit()
            || (c == '.' && chars.get(i + 1).is_some_and(char::is_ascii_digit))
        {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
                i += 1;
            }
            if i < chars.len() && (chars[i] == 'e' || chars[i] == 'E') {
                let mut j = i + 1;
                if j < chars.len() && (chars[j] == '+' || chars[j] == '-') {
                    j += 1;
                }
                if j < chars.len() && chars[j].is_ascii_digit() {
                    i = j;
                    while i < chars.len() && chars[i].is_ascii_digit() {
                        i += 1;
                    }
                }
            }
            let text: String = chars[start..i].iter().collect();
            let value: f64 = text
                .parse()
                .map_err(|_| syntax(position, format!("`{text}` is not a number")))?;
            tokens.push(Token {
                kind: Kind::Number(value),
                position,
            });
            continue;
        } else if c.is_alphabetic() {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            tokens.push(Token {
                kind: Kind::Name(chars[start..i].iter().collect::<String>().to_lowercase()),
                position,
            });
            continue;
        } else if c == '*' && chars.get(i + 1) == Some(&'*') {
            i += 1;
            Kind::Op('^')
        } else {
            match c {
                '+' | '-' | '*' | '/' | '^' | '%' => Kind::Op(c),
                '×' => Kind::Op('*'),
                '÷' => Kind::Op('/'),
                '−' => Kind::Op('-'),
                '(' => Kind::Open,
                ')' => Kind::Close,
                ',' => Kind::Comma,
                other => return Err(syntax(position, format!("unexpected character `{other}`"))),
            }
        };
        tokens.push(Token { kind, position });
        i += 1;
    }
    Ok(tokens)
}

/// Binding power of prefix `-` and `+`: below `^`, so `-2^2` is `-(2^2)`.
const UNARY_POWER: u8 = 5;

/// Left and right binding powers of an infix operator.
fn infix_power(op: char) -> Option<(u8, u8)> {
    match op {
        '+' | '-' => Some((1, 2)),
        '*' | '/' | '%' => Some((3, 4)),
        '^' => Some((7, 6)),
        _ => None,
    }
}

const FUNCTIONS: &str = "sqrt, abs, sin, cos, tan, ln, log10, exp, floor, ceil, round, min, max";

fn unary_function(name: &str) -> Option<fn(f64) -> f64> {
    Some(match name {
        "sqrt" => f64::sqrt,
        "abs" => f64::abs,
        "sin" => f64::sin,
        "cos" => f64::cos,
        "tan" => f64::tan,
        "ln" => f64::ln,
        "log10" => f64::log10,
        "exp" => f64::exp,
        "floor" => f64::floor,
        "ceil" => f64::ceil,
        "round" => f64::round,
        _ => return None,
    })
}

/// Parses and evaluates in one pass. Arithmetic errors are recorded (the first one wins) and
/// evaluation goes on with NaN, so that a syntax error later in the input is still reported.
struct Parser {
    tokens: Vec<Token>,
    next: usize,
    /// Position reported for "unexpected end".
    end: usize,
    math_error: Option<Error>,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.next)
    }

    fn advance(&mut self) -> Option<Token> {
        let token = self.tokens.get(self.next).cloned();
        self.next += 1;
        token
    }

    fn expect_close(&mut self, opened_at: usize) -> Result<(), Error> {
        match self.advance() {
            Some(Token {
                kind: Kind::Close, ..
            }) => Ok(()),
            Some(token) => Err(syntax(
                token.position,
                format!("expected `)` but found {}", token.kind.describe()),
            )),
            None => Err(syntax(
                self.end,
                format!("missing `)` for the `(` at character {opened_at}"),
            )),
        }
    }

    /// Records an arithmetic error unless the inputs were already invalid.
    fn check(&mut self, value: f64, inputs_finite: bool, position: usize) -> f64 {
        if inputs_finite && self.math_error.is_none() {
            if value.is_nan() {
                self.math_error = Some(Error::Undefined { position });
            } else if value.is_infinite() {
                self.math_error = Some(Error::Overflow { position });
            }
        }
        value
    }

    fn expression(&mut self, min_power: u8, depth: usize) -> Result<f64, Error> {
        let Some(token) = self.advance() else {
            return Err(syntax(self.end, "unexpected end of the expression"));
        };
        if depth > MAX_DEPTH {
            return Err(syntax(
                token.position,
                format!("the expression nests deeper than {MAX_DEPTH} levels"),
            ));
        }
        let mut lhs = match token.kind {
            Kind::Number(value) => self.check(value, true, token.position),
            Kind::Op('-') => -self.expression(UNARY_POWER, depth + 1)?,
            Kind::Op('+') => self.expression(UNARY_POWER, depth + 1)?,
            Kind::Open => {
                let value = self.expression(0, depth + 1)?;
                self.expect_close(token.position)?;
                value
            }
            Kind::Name(name) => self.name(&name, token.position, depth)?,
            other => {
                return Err(syntax(
                    token.position,
                    format!("expected a number but found {}", other.describe()),
                ))
            }
        };
        while let Some(next) = self.peek() {
            let (op, position) = match &next.kind {
                Kind::Op(op) => (*op, next.position),
                Kind::Close | Kind::Comma => break,
                other => {
                    return Err(syntax(
                        next.position,
                        format!("expected an operator but found {}", other.describe()),
                    ))
                }
            };
            let Some((left, right)) = infix_power(op) else {
                return Err(syntax(position, format!("unknown operator `{op}`")));
            };
            if left < min_power {
                break;
            }
            self.next += 1;
            let rhs = self.expression(right, depth + 1)?;
            lhs = self.apply(op, lhs, rhs, position);
        }
        Ok(lhs)
    }

    fn apply(&mut self, op: char, lhs: f64, rhs: f64, position: usize) -> f64 {
        let finite = lhs.is_finite() && rhs.is_finite();
        if (op == '/' || op == '%') && rhs == 0.0 {
            if finite && self.math_error.is_none() {
                self.math_error = Some(Error::DivisionByZero { position });
            }
            return f64::NAN;
        }
        let value = match op {
            '+' => lhs + rhs,
            '-' => lhs - rhs,
            '*' => lhs * rhs,
            '/' => lhs / rhs,
            '%' => lhs % rhs,
            _ => lhs.powf(rhs),
        };
        self.check(value, finite, position)
    }

    fn name(&mut self, name: &str, position: usize, depth: usize) -> Result<f64, Error> {
        let called = matches!(
            self.peek(),
            Some(Token {
                kind: Kind::Open,
                ..
            })
        );
        if !called {
            return match name {
                "pi" | "π" => Ok(std::f64::consts::PI),
                "e" => Ok(std::f64::consts::E),
                _ if unary_function(name).is_some() || name == "min" || name == "max" => {
                    Err(syntax(
                        position,
                        format!("`{name}` is a function: write `{name}(...)`"),
                    ))
                }
                _ => Err(syntax(
                    position,
                    format!("unknown name `{name}`; functions: {FUNCTIONS}; constants: pi, e"),
                )),
            };
        }
        let function = unary_function(name);
        if function.is_none() && name != "min" && name != "max" {
            return Err(syntax(
                position,
                format!("unknown function `{name}`; functions: {FUNCTIONS}"),
            ));
        }
        let open = self.advance().map_or(position, |token| token.position);
        let mut args = vec![self.expression(0, depth + 1)?];
        while matches!(
            self.peek(),
            Some(Token {
                kind: Kind::Comma,
                ..
            })
        ) {
            self.next += 1;
            args.push(self.expression(0, depth + 1)?);
        }
        self.expect_close(open)?;
        let finite = args.iter().all(|a| a.is_finite());
        let value = match function {
            Some(f) => {
                if args.len() != 1 {
                    return Err(syntax(
                        position,
                        format!("`{name}` takes 1 argument, got {}", args.len()),
                    ));
                }
                f(args[0])
            }
            None if name == "min" => args.iter().copied().fold(f64::INFINITY, f64::min),
            None => args.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        };
        Ok(self.check(value, finite, position))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use argus_core::{ToolCall, ToolErrorKind, ToolRegistry};
    use serde_json::json;

    fn eval(expression: &str) -> f64 {
        Calculator::evaluate(expression).unwrap()
    }

    fn error(expression: &str) -> Error {
        Calculator::evaluate(expression).unwrap_err()
    }

    fn syntax_at(expression: &str) -> (usize, String) {
        match error(expression) {
            Error::Syntax { position, message } => (position, message),
            other => panic!("expected a syntax error for {expression:?}, got {other:?}"),
        }
    }

    #[test]
    fn precedence_and_associativity() {
        assert_eq!(eval("2 + 3 * 4"), 14.0);
        assert_eq!(eval("(2 + 3) * 4"), 20.0);
        assert_eq!(eval("10 - 4 - 3"), 3.0);
        assert_eq!(eval("100 / 10 / 5"), 2.0);
        assert_eq!(eval("2 ^ 3 ^ 2"), 512.0);
        assert_eq!(eval("2 ** 10"), 1024.0);
        assert_eq!(eval("-2 ^ 2"), -4.0);
        assert_eq!(eval("(-2) ^ 2"), 4.0);
        assert_eq!(eval("2 ^ -1"), 0.5);
        assert_eq!(eval("--3"), 3.0);
        assert_eq!(eval("+3 - -3"), 6.0);
        assert_eq!(eval("7 % 3"), 1.0);
        assert_eq!(eval("-7 % 3"), -1.0);
        assert_eq!(eval("2 * -3"), -6.0);
        assert_eq!(eval(" 6 × 7 ÷ 2 "), 21.0);
    }

    #[test]
    fn numbers_functions_and_constants() {
        assert_eq!(eval(".5 + 1.25e2 + 1E-1"), 125.6);
        assert_eq!(eval("sqrt(16)"), 4.0);
        assert_eq!(eval("abs(-3)"), 3.0);
        assert_eq!(eval("min(3, 1, 2)"), 1.0);
        assert_eq!(eval("max(3, 1, 2)"), 3.0);
        assert_eq!(eval("floor(2.7) + ceil(2.2) + round(2.5)"), 8.0);
        assert_eq!(eval("log10(1000)"), 3.0);
        assert_eq!(eval("ln(e)"), 1.0);
        assert_eq!(eval("exp(0)"), 1.0);
        assert!((eval("sin(pi / 2)") - 1.0).abs() < 1e-12);
        assert!((eval("cos(PI)") + 1.0).abs() < 1e-12);
        assert!(eval("tan(0)").abs() < 1e-12);
        assert_eq!(eval("sqrt(max(9, 16)) * 2"), 8.0);
    }

    #[test]
    fn arithmetic_errors() {
        assert!(matches!(
            error("1 / 0"),
            Error::DivisionByZero { position: 3 }
        ));
        assert!(matches!(
            error("5 % (2 - 2)"),
            Error::DivisionByZero { position: 3 }
        ));
        assert!(matches!(error("10 ^ 400"), Error::Overflow { position: 4 }));
        assert!(matches!(error("1e999"), Error::Overflow { position: 1 }));
        assert!(matches!(
            error("exp(1000)"),
            Error::Overflow { position: 1 }
        ));
        assert!(matches!(
            error("sqrt(-1)"),
            Error::Undefined { position: 1 }
        ));
        // The first arithmetic error is reported, not its consequences.
        assert!(matches!(
            error("1/0 + 10^400"),
            Error::DivisionByZero { position: 2 }
        ));
        // A syntax error wins over an earlier arithmetic one.
        assert!(matches!(error("1/0 +"), Error::Syntax { .. }));
    }

    #[test]
    fn syntax_errors_have_positions() {
        assert_eq!(syntax_at(""), (1, "the expression is empty".into()));
        assert_eq!(syntax_at("   ").0, 1);
        assert_eq!(syntax_at("1 +").0, 4);
        assert_eq!(syntax_at("2 * (3 + 4").0, 11);
        assert!(syntax_at("2 * (3 + 4").1.contains("character 5"));
        assert_eq!(syntax_at("2 + 3)"), (6, "unmatched `)`".into()));
        assert_eq!(syntax_at("2 3").0, 3);
        assert_eq!(syntax_at("2 $ 3").0, 3);
        assert_eq!(syntax_at("1.2.3").0, 1);
        assert_eq!(syntax_at("foo(1)").0, 1);
        assert!(syntax_at("x + 1").1.contains("unknown name `x`"));
        assert!(syntax_at("sqrt 4").1.contains("is a function"));
        assert!(syntax_at("sqrt(1, 2)").1.contains("takes 1 argument"));
        assert_eq!(syntax_at("max()").0, 5);
        assert_eq!(syntax_at("*2").0, 1);
        assert_eq!(syntax_at("é + 1").0, 1);
        assert_eq!(syntax_at("1 + ü").0, 5);
        assert_eq!(syntax_at("🙂 + 1").0, 1);
        assert_eq!(syntax_at("1 + 🙂").0, 5);
        assert!(syntax_at("__import__('os')")
            .1
            .contains("unexpected character `_`"));
    }

    #[test]
    fn hostile_inputs_are_bounded() {
        let deep = format!("{}1{}", "(".repeat(2_000), ")".repeat(2_000));
        assert!(syntax_at(&deep).1.contains("nests deeper"));
        let deep_unary = format!("{}1", "-".repeat(500));
        assert!(syntax_at(&deep_unary).1.contains("nests deeper"));
        let deep_power = vec!["2"; 200].join("^");
        assert!(syntax_at(&deep_power).1.contains("nests deeper"));
        let long_sum = vec!["1"; 4_000].join("+");
        assert_eq!(eval(&long_sum), 4_000.0);
        let too_long = "1+".repeat(MAX_CHARS);
        assert!(syntax_at(&too_long).1.contains("longer than"));
    }

    #[tokio::test]
    async fn integers_print_without_fraction() {
        let mut tools = ToolRegistry::new();
        tools.register(Calculator).unwrap();
        for (expression, text) in [
            ("2 + 2", "4"),
            ("7 / 2", "3.5"),
            ("-0", "0"),
            ("2 ^ 53", "9007199254740992"),
            ("2 ^ 60", "1.152921504606847e+18"),
            ("0.1 + 0.2", "0.30000000000000004"),
        ] {
            let call = ToolCall::new("calculator", json!({ "expression": expression }));
            let output = tools
                .call(&call, ToolContext::new("c"))
                .await
                .result
                .unwrap();
            assert_eq!(output.text, text, "{expression}");
        }
        let call = ToolCall::new("calculator", json!({ "expression": "1/0" }));
        let failure = tools
            .call(&call, ToolContext::new("c"))
            .await
            .result
            .unwrap_err();
        assert_eq!(
            failure.to_model_text(),
            "error (failed): division by zero at character 2"
        );
    }

    #[tokio::test]
    async fn the_schema_refuses_an_empty_expression() {
        let mut tools = ToolRegistry::new();
        tools.register(Calculator).unwrap();
        assert_eq!(
            tools.specs()[0].parameters["properties"]["expression"]["minLength"],
            1
        );
        let call = ToolCall::new("calculator", json!({ "expression": "" }));
        let failure = tools
            .call(&call, ToolContext::new("c"))
            .await
            .result
            .unwrap_err();
        assert_eq!(failure.kind, ToolErrorKind::InvalidArguments);
    }
}
