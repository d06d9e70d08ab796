//! spin.toml against the table, both ways.

use super::*;
use std::collections::BTreeMap;

fn manifest() -> toml::Table {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../spin.toml");
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    text.parse().unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn table<'a>(v: &'a toml::Table, key: &str) -> &'a toml::Table {
    v.get(key)
        .and_then(toml::Value::as_table)
        .unwrap_or_else(|| panic!("no [{key}]"))
}

#[test]
fn spin_toml_declares_every_variable_of_the_table_with_its_default() {
    let m = manifest();
    let declared: BTreeMap<&str, (&str, bool)> = table(&m, "variables")
        .iter()
        .map(|(name, v)| {
            let default = v
                .get("default")
                .and_then(|d| d.as_str())
                .unwrap_or_default();
            let secret = v
                .get("secret")
                .and_then(toml::Value::as_bool)
                .unwrap_or(false);
            (name.as_str(), (default, secret))
        })
        .collect();
    let ours: BTreeMap<&str, (&str, bool)> = VARIABLES
        .iter()
        .map(|v| (v.name, (v.default, v.secret)))
        .collect();
    assert_eq!(declared, ours);
}

#[test]
fn each_component_declares_exactly_the_variables_it_reads() {
    let m = manifest();
    let components = table(&m, "component");
    for (name, component) in components {
        let Some(component) = component.as_table() else {
            continue;
        };
        let declared: BTreeMap<&str, &str> = component
            .get("variables")
            .and_then(toml::Value::as_table)
            .map(|t| {
                t.iter()
                    .map(|(k, v)| (k.as_str(), v.as_str().unwrap_or_default()))
                    .collect()
            })
            .unwrap_or_default();
        let templates: Vec<String> = read_by(name)
            .map(|v| format!("{{{{ {} }}}}", v.name))
            .collect();
        let ours: BTreeMap<&str, &str> = read_by(name)
            .zip(&templates)
            .map(|(v, t)| (v.name, t.as_str()))
            .collect();
        assert_eq!(declared, ours, "[component.{name}.variables]");
        let hosts: Vec<&str> = component
            .get("allowed_outbound_hosts")
            .and_then(toml::Value::as_array)
            .map(|a| a.iter().filter_map(toml::Value::as_str).collect())
            .unwrap_or_default();
        let slots: Vec<String> = VARIABLES
            .iter()
            .filter(|v| v.allows_hosts_of.contains(&name.as_str()))
            .map(|v| format!("{{{{ {} }}}}", v.name))
            .collect();
        assert_eq!(hosts, slots, "[component.{name}] allowed_outbound_hosts");
    }
}

#[test]
fn every_reader_is_a_component_of_the_app() {
    let m = manifest();
    let components = table(&m, "component");
    for v in VARIABLES {
        for c in v.read_by.iter().chain(v.allows_hosts_of) {
            assert!(components.contains_key(*c), "{}: no component {c}", v.name);
        }
    }
}
