//! Opaque, time-sortable ids (UUID v7 as 32 lowercase hex digits).

pub fn new_id() -> String {
    uuid::Uuid::now_v7().simple().to_string()
}

#[cfg(test)]
mod tests {
    #[test]
    fn ids_sort_by_creation_time() {
        let ids: Vec<String> = (0..200).map(|_| super::new_id()).collect();
        let mut sorted = ids.clone();
        sorted.sort();
        assert_eq!(ids, sorted);
        assert!(ids.iter().all(|i| i.len() == 32));
    }
}
