//! Input form validation with Dify's exact messages.
//!
//! Mirrors `BaseAppGenerator._validate_inputs` (Dify `api/core/app/apps/base_app_generator.py`):
//! variables are checked in form order and the first failure is reported. Messages were
//! checked against the recorded exchanges (`inner-13`, `inner-14`, `inner-15`). Unknown extra
//! keys are accepted silently, as `inner-17` shows. Text longer than its variable's
//! `max_length` is the only length Dify refuses (`inner-16`); the mock's own bounds, where
//! Dify has none, are in `limits.rs`.

use serde_json::{Map, Value};

use super::app::{FieldType, InputField};

/// Check `inputs` against `form`; the error is Dify's message.
pub fn validate(form: &[InputField], inputs: &Map<String, Value>) -> Result<(), String> {
    form.iter()
        .try_for_each(|field| check(field, inputs.get(&field.variable)))
}

fn check(field: &InputField, value: Option<&Value>) -> Result<(), String> {
    let name = &field.variable;
    let value = match value {
        None | Some(Value::Null) if field.required => {
            return Err(format!("{name} is required in input form"));
        }
        None | Some(Value::Null) => return Ok(()),
        Some(v) => v,
    };
    match field.field_type {
        FieldType::TextInput | FieldType::Paragraph | FieldType::Select => {
            let Value::String(text) = value else {
                return Err(format!(
                    "(type '{}') {name} in input form must be a string",
                    field.field_type.as_str()
                ));
            };
            if field.field_type == FieldType::Select && !field.options.contains(text) {
                return Err(format!(
                    "{name} in input form must be one of the following: {}",
                    python_list(&field.options)
                ));
            }
            // Dify: `if variable_entity.max_length and len(value) > max_length`, for
            // text-input and paragraph only: a `max_length` of 0 is no limit, and `len`
            // counts code points (DIFY `base_app_generator.py` `_validate_inputs`).
            if field.field_type != FieldType::Select
                && let Some(max) = field.max_length.filter(|&max| max > 0)
                && text.chars().count() > max
            {
                return Err(format!(
                    "{name} in input form must be less than {max} characters"
                ));
            }
            Ok(())
        }
        FieldType::Number => match value {
            Value::Number(_) => Ok(()),
            Value::String(s) if s.trim().is_empty() || s.trim().parse::<f64>().is_ok() => Ok(()),
            _ => Err(format!("{name} in input form must be a valid number")),
        },
    }
}

/// Python's `str(list_of_str)`, as Dify's f-string prints it: `['a', 'b']`.
fn python_list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| format!("'{s}'")).collect();
    format!("[{}]", quoted.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn inputs(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn messages_match_the_recorded_dify_answers() {
        let form = [InputField::text("name").required().max_length(48)];
        // inner-13 / inner-14
        assert_eq!(
            validate(&form, &inputs(json!({}))).unwrap_err(),
            "name is required in input form"
        );
        // inner-15
        assert_eq!(
            validate(&form, &inputs(json!({"name": 42}))).unwrap_err(),
            "(type 'text-input') name in input form must be a string"
        );
        assert_eq!(
            validate(&form, &inputs(json!({"name": "x".repeat(49)}))).unwrap_err(),
            "name in input form must be less than 48 characters"
        );
        // Checked in characters, as Python's len(): 48 two-byte characters pass.
        assert!(validate(&form, &inputs(json!({"name": "é".repeat(48)}))).is_ok());
        // inner-17: unknown keys pass
        assert!(validate(&form, &inputs(json!({"name": "Alice", "extra": 1}))).is_ok());
    }

    #[test]
    fn select_lists_its_options_like_python() {
        let form = [InputField::select("tone", &["formal", "casual"])];
        assert_eq!(
            validate(&form, &inputs(json!({"tone": "rude"}))).unwrap_err(),
            "tone in input form must be one of the following: ['formal', 'casual']"
        );
    }

    #[test]
    fn numbers_accept_numeric_strings() {
        let form = [InputField::number("n").required()];
        assert!(validate(&form, &inputs(json!({"n": "3.5"}))).is_ok());
        assert_eq!(
            validate(&form, &inputs(json!({"n": "three"}))).unwrap_err(),
            "n in input form must be a valid number"
        );
    }

    #[test]
    fn max_length_applies_as_in_dify() {
        // A paragraph is checked like a text input; 4 MiB is refused with the limit named.
        let mut para = InputField::text("body").max_length(1000);
        para.field_type = FieldType::Paragraph;
        assert_eq!(
            validate(&[para], &inputs(json!({"body": "w ".repeat(2 << 20)}))).unwrap_err(),
            "body in input form must be less than 1000 characters"
        );
        // 0 is no limit (Python's falsy `max_length`), and a select has none.
        let unlimited = InputField::text("t").max_length(0);
        assert!(validate(&[unlimited], &inputs(json!({"t": "long text"}))).is_ok());
        let select = InputField::select("s", &["abc"]).max_length(1);
        assert!(validate(&[select], &inputs(json!({"s": "abc"}))).is_ok());
    }
}
