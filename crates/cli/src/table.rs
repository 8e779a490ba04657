//! A plain-text table for the `list` commands, in the manner of `kubectl get`: a header of
//! upper-case names, columns padded with spaces and separated by two, no borders, so that
//! `awk '{print $1}'` and `column`-style tools work on it.

/// Rows of text cells under a header.
#[derive(Debug, Clone)]
pub struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column names.
    pub fn new(header: &[&str]) -> Self {
        Self {
            header: header.iter().map(|h| (*h).to_owned()).collect(),
            rows: Vec::new(),
        }
    }

    /// Adds a row; missing cells are empty, extra cells are dropped.
    pub fn row(&mut self, cells: Vec<String>) {
        let mut cells = cells;
        cells.resize(self.header.len(), String::new());
        self.rows.push(cells);
    }

    /// The table as text, one line per row, each ending in a newline. The last column is
    /// not padded, so lines carry no trailing spaces.
    pub fn render(&self) -> String {
        let width = |column: usize| {
            std::iter::once(&self.header)
                .chain(&self.rows)
                .map(|row| row[column].chars().count())
                .max()
                .unwrap_or(0)
        };
        let widths: Vec<usize> = (0..self.header.len()).map(width).collect();
        let mut out = String::new();
        for row in std::iter::once(&self.header).chain(&self.rows) {
            let mut line = String::new();
            for (column, cell) in row.iter().enumerate() {
                if column + 1 == row.len() {
                    line.push_str(cell);
                } else {
                    let pad = widths[column] - cell.chars().count();
                    line.push_str(cell);
                    line.push_str(&" ".repeat(pad + 2));
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_aligned_without_trailing_spaces() {
        let mut table = Table::new(&["NAME", "ENABLED", "FILE"]);
        table.row(vec!["gw".into(), "true".into(), "r/devices/gw.yaml".into()]);
        table.row(vec!["thermostat-1".into(), "false".into()]);
        assert_eq!(
            table.render(),
            "NAME          ENABLED  FILE\n\
             gw            true     r/devices/gw.yaml\n\
             thermostat-1  false\n"
        );
    }

    #[test]
    fn a_table_without_rows_is_its_header() {
        let table = Table::new(&["NAME", "FILE"]);
        assert_eq!(table.render(), "NAME  FILE\n");
    }
}
