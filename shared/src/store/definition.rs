//! The table's shape, in one place: `runtype table create`, the SQLite schema and the SAM
//! template's table (checked by a test) all follow this.

pub struct TableDef {
    pub partition_key: &'static str,
    pub sort_key: &'static str,
    /// (index name, partition key attribute, sort key attribute); all project ALL.
    pub indexes: &'static [(&'static str, &'static str, &'static str)],
    pub ttl_attribute: &'static str,
}

pub const TABLE: TableDef = TableDef {
    partition_key: "PK",
    sort_key: "SK",
    indexes: &[("GSI1", "GSI1PK", "GSI1SK"), ("GSI2", "GSI2PK", "GSI2SK")],
    ttl_attribute: "expiresAt",
};

/// Attribute names of the other top-level attributes every item carries.
pub const ENTITY: &str = "type";
pub const VERSION: &str = "version";
pub const CREATED_AT: &str = "createdAt";
pub const UPDATED_AT: &str = "updatedAt";
pub const DATA: &str = "data";
pub const COUNT: &str = "count";

pub const DEFAULT_TABLE_NAME: &str = "runtype";
