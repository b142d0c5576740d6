//! `data.toml` from the fuzzer, next to a small export of the mini sales (semicolons,
//! decimal commas, DD/MM/YYYY dates) and its People.csv, managers.csv and plans.csv, through
//! the mapping: dialects, encodings, column specs, expressions, lookups, filters, and the
//! conversion into canonical tables. Errors are fine; a panic is a bug.

#![no_main]

use libfuzzer_sys::fuzz_target;
use std::path::PathBuf;
use std::sync::OnceLock;

const ORDERS: &str = concat!(
    "Row ID;Order Date;Customer ID;Customer Name;Region;Product ID;Category;Quantity;Sales;Profit\r\n",
    "1;02/03/2026;C1;\"Ann C1; \"\"Ltd\"\"\";North;P1;Dairy;10;600,00;450,00\r\n",
    "2;20/03/2026;C1;\"Ann C1; \"\"Ltd\"\"\";North;P2;Bakery;5;400,00;250,00\r\n",
    "3;03/03/2026;C2;Bob C2;East;P1;Dairy;10;1 200,00;800,00\r\n",
    "4;04/03/2026;C2;Bob C2;East;P1;Dairy;-1;-100,00;-100,00\r\n",
    "5;05/03/2026;C3;Cat C3;South;P1;Dairy;15;1 500,00;1 000,00\r\n",
    "6;06/03/2026;C4;ООО «Ромашка»;West;P3;Frozen;1;1 000,00;500,00\r\n",
    "7;10/02/2026;C4;ООО «Ромашка»;West;P3;Frozen;1;999,00;998,00\r\n",
    "8;01/04/2026;C4;ООО «Ромашка»;West;P3;Frozen;1;5 000,00;4 999,00\r\n",
);

const PEOPLE: &str = "Person;Region\nM1;North\nM2;East\nM3;South\nM4;West\n";

/// This process's directory of source files; data.toml is written into it for each input.
fn sources_dir() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir =
            std::env::temp_dir().join(format!("bonusrun-fuzz-mapping-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a temporary directory");
        let files: [(&str, &[u8]); 4] = [
            ("Orders.csv", ORDERS.as_bytes()),
            ("People.csv", PEOPLE.as_bytes()),
            (
                "managers.csv",
                include_bytes!("../../tests/data/mini/data/managers.csv") as &[u8],
            ),
            (
                "plans.csv",
                include_bytes!("../../tests/data/mini/data/plans.csv") as &[u8],
            ),
        ];
        for (name, bytes) in files {
            std::fs::write(dir.join(name), bytes).expect("a source file is written");
        }
        dir
    })
}

fuzz_target!(|mapping: &[u8]| {
    let path = sources_dir().join("data.toml");
    if std::fs::write(&path, mapping).is_err() {
        return;
    }
    let _ = bonusrun::mapping::load(&path);
});
