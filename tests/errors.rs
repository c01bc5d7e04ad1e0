//! Every class of error, one table row each: the files a run is given (made
//! in a fresh temporary folder), its arguments, the exit code it must end
//! with and the one line it must print. Exit codes and messages are listed in
//! docs/errors.md.
//!
//! For every row: stdout stays empty. For errors of the tool (exit 1, and
//! exit 2 for conflicts found after parsing) stderr is exactly one line,
//! `error: ` then the expected text, which names the file and the place at
//! fault. Usage errors found by the argument parser (exit 2) print clap's own
//! message; for those only the code and the empty stdout are checked.

mod support;

use std::fs;
use std::path::Path;

use support::{f32_npy, f64_npy, four_rows, infonce, npy, pairs_npy, run, run_json};

/// One run that must fail.
struct Case {
    class: &'static str,
    args: Vec<&'static str>,
    files: Vec<(&'static str, Vec<u8>)>,
    dirs: Vec<&'static str>,
    stdin: Option<Vec<u8>>,
    code: i32,
    /// The expected stderr line after `error: `; `None` for clap's messages.
    want: Option<&'static str>,
}

fn case(class: &'static str, args: &[&'static str], code: i32, want: Option<&'static str>) -> Case {
    Case {
        class,
        args: args.to_vec(),
        files: Vec::new(),
        dirs: Vec::new(),
        stdin: None,
        code,
        want,
    }
}

impl Case {
    fn file(mut self, name: &'static str, bytes: impl Into<Vec<u8>>) -> Case {
        self.files.push((name, bytes.into()));
        self
    }
    fn dir(mut self, name: &'static str) -> Case {
        self.dirs.push(name);
        self
    }
    fn stdin(mut self, bytes: impl Into<Vec<u8>>) -> Case {
        self.stdin = Some(bytes.into());
        self
    }
    /// With the valid four-row embeddings `e.npy`.
    fn emb(self) -> Case {
        self.file("e.npy", f64_npy(&four_rows()))
    }
}

/// `<f8` data of `values`, little-endian.
fn f64_bytes(values: &[f64]) -> Vec<u8> {
    values.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn usage(class: &'static str, args: &[&'static str]) -> Case {
    case(class, args, 2, None).emb()
}

fn cases() -> Vec<Case> {
    let c = |class, args: &[&'static str], want| case(class, args, 1, Some(want));
    let zero_row = vec![
        vec![1.0, 0.5],
        vec![-0.5, 1.0],
        vec![0.0, 0.0],
        vec![0.1, -1.0],
    ];
    let mut nan = four_rows();
    nan[1][0] = f64::NAN;
    let mut inf = four_rows();
    inf[2][1] = f64::INFINITY;
    let two_by_two = f64_bytes(&[1.0, 2.0, 3.0, 4.0]);
    vec![
        // Files of the wrong kind, or no file at all.
        c("not npy", &["compute", "e.npy"], "e.npy: not a .npy file (it does not start with \\x93NUMPY)")
            .file("e.npy", "hello"),
        c("not text (not UTF-8)", &["compute", "e.csv"], "e.csv: line 2: not UTF-8 text (byte 4 is 0x80); text input must be UTF-8 CSV, TSV or numbers separated by spaces")
            .file("e.csv", b"1,2\n\x80garbage\n".to_vec()),
        c("not text (a NUL byte)", &["compute", "e.csv"], "e.csv: line 1: byte 3 is NUL: binary data, not text (text input must be UTF-8 CSV, TSV or numbers separated by spaces)")
            .file("e.csv", b"1,2\x00\x01garbage".to_vec()),
        c("not text (NUL on standard input)", &["compute", "-"], "<stdin>: line 1: byte 0 is NUL: binary data, not text (text input must be UTF-8 CSV, TSV or numbers separated by spaces)")
            .stdin(vec![0u8; 1 << 16]),
        c("UTF-16 text", &["compute", "e.csv"], "e.csv: UTF-16 text (it starts with the byte-order mark ff fe); save it as UTF-8")
            .file("e.csv", b"\xff\xfe1\x00,\x002\x00".to_vec()),
        c("line too long", &["compute", "-"], "<stdin>: line 2 is longer than 4194304 bytes, the most a line of text input may hold")
            .stdin([&b"1,2\n"[..], &b"1,".repeat(3 << 20)].concat()),
        c("not csv (words)", &["compute", "e.csv"], "e.csv: line 2, column 2: 'b' is not a number")
            .file("e.csv", "1,2\n1,b\n"),
        c("word under a header", &["compute", "e.csv"], "e.csv: line 2, column 1: 'img_001' is not a number (the header calls this column 'file'; choose the embedding columns with --columns, e.g. --columns 2:)")
            .file("e.csv", "file,e0,e1\nimg_001,1,2\n"),
        c("id column", &["compute", "e.csv"], "e.csv: line 1, column 1: the header names this column 'id', which is not a dimension of an embedding; choose the embedding columns with --columns (e.g. --columns 2:, or --columns 1: to keep every column)")
            .file("e.csv", "id,e0,e1\n0,1,2\n1,3,4\n"),
        c("index column of non-integers", &["compute", "e.csv"], "e.csv: line 3, column 1: '1.5' is not an integer, but the column's header cell is empty, as pandas writes its index; choose the columns with --columns")
            .file("e.csv", ",0,1\n0,1,2\n1.5,3,4\n"),
        c("unclosed quote", &["compute", "e.csv"], "e.csv: line 1, column 1: the quote (\") that opens this cell is not closed on this line (a cell cannot span lines)")
            .file("e.csv", "\"0.1,0.2,0.3\n1,2,3\n4,5,6\n7,8,9\n"),
        c("text after a closing quote", &["compute", "e.csv"], "e.csv: line 2, column 2: text follows the closing quote (\") of this cell")
            .file("e.csv", "1,2\n3,\"4\"5\n"),
        c("separators differ", &["compute", "e.csv"], "e.csv: line 2 is separated by commas, but line 1 by tabs; use one separator throughout")
            .file("e.csv", "0.1\t0.2\t0.3\n1,2,3\n4,5,6\n7,8,9\n"),
        c("separators mixed on one line", &["compute", "e.csv"], "e.csv: line 1 mixes commas and tabs as separators; use one separator throughout")
            .file("e.csv", "1\t2,3\n4\t5,6\n"),
        c("semicolons and decimal commas", &["compute", "e.csv"], "e.csv: line 1, column 2: '5;2' is not a number (semicolons separate cells here, as in CSV with decimal commas: write the file with commas between cells and decimal points, e.g. to_csv(path, sep=',', decimal='.'))")
            .file("e.csv", "1,5;2,5\n3,5;4,5\n"),
        c("--columns: no such column", &["compute", "e.csv", "--columns", "2:5"], "e.csv: --columns 2:5: column 5 does not exist (the file has 3 columns)")
            .file("e.csv", "id,e0,e1\na,1,2\nb,3,4\n"),
        c("--columns: no such name", &["compute", "e.csv", "--columns", "e0:e2"], "e.csv: --columns e0:e2: no column is named 'e2' in the header (line 1)")
            .file("e.csv", "id,e0,e1\na,1,2\nb,3,4\n"),
        c("--columns: a name, no header", &["compute", "e.csv", "--columns", "e0"], "e.csv: --columns e0: names column 'e0', but the file has no header line")
            .file("e.csv", "1,2\n3,4\n"),
        c("--columns: backwards", &["compute", "e.csv", "--columns", "3:2"], "e.csv: --columns 3:2: the range from column 3 to column 2 runs backwards")
            .file("e.csv", "id,e0,e1\na,1,2\nb,3,4\n"),
        c("--columns: twice", &["compute", "e.csv", "--columns", "2:3,3"], "e.csv: --columns 2:3,3: column 3 is selected twice")
            .file("e.csv", "id,e0,e1\na,1,2\nb,3,4\n"),
        c("empty file", &["compute", "e.csv"], "e.csv: is empty (0 bytes)").file("e.csv", ""),
        c("directory", &["compute", "d"], "d: is a directory, not a file").dir("d"),
        c("missing file", &["compute", "missing.npy"], "missing.npy: no such file"),
        c("missing pairs file", &["compute", "e.npy", "--pairs", "p.csv"], "p.csv: no such file").emb(),
        c("pairs directory", &["compute", "e.npy", "--pairs", "d"], "d: is a directory, not a file")
            .emb()
            .dir("d"),
        c("pairs not npy", &["compute", "e.npy", "--pairs", "p.npy"], "p.npy: not a .npy file (it does not start with \\x93NUMPY)")
            .emb()
            .file("p.npy", "0,1\n"),
        c("missing keys file", &["compute", "e.npy", "--keys", "k.npy"], "k.npy: no such file").emb(),
        c("bad stdin", &["compute", "-"], "<stdin>: line 1, column 1: 'hello' is not a number")
            .stdin("hello,1\n"),
        c("truncated npy", &["compute", "e.npy"], "e.npy: header shape [4, 2] of float64 needs 64 data bytes but the file holds 63")
            .file("e.npy", { let mut b = f64_npy(&four_rows()); b.pop(); b }),
        c("truncated npy header", &["compute", "e.npy"], "e.npy: file ends inside the header")
            .file("e.npy", f64_npy(&four_rows())[..40].to_vec()),
        c("npy header of a future version", &["compute", "e.npy"], "e.npy: unsupported .npy format version 9")
            .file("e.npy", { let mut b = f64_npy(&four_rows()); b[6] = 9; b }),
        c("malformed npy header", &["compute", "e.npy"], "e.npy: malformed header: expected ':' at byte 18")
            .file("e.npy", npy("<f8", false, &[2, 2], &two_by_two).iter().map(|&b| if b == b':' { b'=' } else { b }).collect::<Vec<u8>>()),
        c("npy header length too large", &["compute", "e.npy"], "e.npy: malformed header: byte 128 (0x00) follows the closing '}'; is the header length (bytes 8-9, 119) too large?")
            .file("e.npy", { let mut b = f64_npy(&four_rows()); b[8] += 1; b }),
        c("npy header length too small", &["compute", "e.npy"], "e.npy: header shape [4, 2] of float64 needs 64 data bytes but the file holds 65 (the header does not end with a newline at byte 126, as numpy's headers do: is the header length field wrong?)")
            .file("e.npy", { let mut b = f64_npy(&four_rows()); b[8] -= 1; b }),
        c("npy header with a Latin-1 byte", &["compute", "e.npy"], "e.npy: malformed header: expected ':' at byte 18 (found byte 0xe9)")
            .file("e.npy", { let mut b = f64_npy(&four_rows()); b[18] = 0xe9; b }),
        c("npy header key with a Latin-1 byte", &["compute", "e.npy"], "e.npy: header has an unknown key 'déscr' (byte 13 is 0xe9, not ASCII)")
            .file("e.npy", { let mut b = f64_npy(&four_rows()); b[13] = 0xe9; b }),
        c("npy 3.0 header not UTF-8", &["compute", "e.npy"], "e.npy: header is not UTF-8 text: byte 30 is 0xe9")
            .file("e.npy", {
                let v1 = f64_npy(&four_rows());
                let mut b = b"\x93NUMPY\x03\x00".to_vec();
                b.extend_from_slice(&(118u32).to_le_bytes());
                b.extend_from_slice(&v1[10..]);
                b[30] = 0xe9;
                b
            }),
        c("npy stream longer than its header says", &["compute", "-"], "<stdin>: header shape [4, 2] of float64 needs 64 data bytes, but more bytes follow them")
            .stdin({ let mut b = f64_npy(&four_rows()); b.extend([0u8; 100]); b }),
        c("npy stream shorter than its header says", &["compute", "-"], "<stdin>: header shape [4, 2] of float64 needs 64 data bytes but the file holds 63")
            .stdin({ let mut b = f64_npy(&four_rows()); b.truncate(b.len() - 1); b }),
        // Element types.
        c("complex", &["compute", "e.npy"], "e.npy: unsupported dtype '<c16' (expected float16/32/64 or an integer type)")
            .file("e.npy", npy("<c16", false, &[2, 2], &[0; 64])),
        c("object", &["compute", "e.npy"], "e.npy: unsupported dtype '|O'")
            .file("e.npy", npy("|O", false, &[2, 2], &[0; 32])),
        c("strings (`<U..`, read for `--labels` only)", &["compute", "e.npy"], "e.npy: embeddings must be float16, float32 or float64, not <U3 (convert them: np.save(path, z.astype(np.float32)))")
            .file("e.npy", npy("<U3", false, &[2, 2], &[0; 48])),
        c("bool", &["compute", "e.npy"], "e.npy: unsupported dtype '|b1' (expected float16/32/64 or an integer type)")
            .file("e.npy", npy("|b1", false, &[2, 2], &[1, 0, 0, 1])),
        c("int embeddings", &["compute", "e.npy"], "e.npy: embeddings must be float16, float32 or float64, not int32 (convert them: np.save(path, z.astype(np.float32)))")
            .file("e.npy", npy("<i4", false, &[2, 2], &[1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4, 0, 0, 0])),
        // Shapes.
        c("1-D", &["compute", "e.npy"], "e.npy: embeddings must be a 2-D array (rows, dimension), not shape [4]")
            .file("e.npy", npy("<f8", false, &[4], &two_by_two)),
        c("3-D", &["compute", "e.npy"], "e.npy: embeddings must be a 2-D array (rows, dimension), not shape [2, 1, 2]")
            .file("e.npy", npy("<f8", false, &[2, 1, 2], &two_by_two)),
        c("zero rows", &["compute", "e.npy"], "e.npy: embeddings have shape [0, 3]: no values")
            .file("e.npy", npy("<f8", false, &[0, 3], &[])),
        c("zero columns", &["compute", "e.npy"], "e.npy: embeddings have shape [4, 0]: no values")
            .file("e.npy", npy("<f8", false, &[4, 0], &[])),
        // Values.
        c("NaN in npy", &["compute", "e.npy"], "e.npy: NaN (not a number) at row 1, column 0").file("e.npy", f64_npy(&nan)),
        c("inf in npy", &["compute", "e.npy"], "e.npy: inf at row 2, column 1").file("e.npy", f64_npy(&inf)),
        c("NaN in CSV", &["compute", "e.csv"], "e.csv: NaN at line 3, column 2 (values must be finite)")
            .file("e.csv", "a,b\n1,2\n3,nan\n4,5\n6,7\n"),
        c("inf in CSV", &["compute", "e.csv"], "e.csv: -inf at line 2, column 1 (values must be finite)")
            .file("e.csv", "1,2\n-inf,3\n4,5\n6,7\n"),
        c("overflowing value in CSV", &["compute", "e.csv"], "e.csv: inf at line 1, column 2 (values must be finite)")
            .file("e.csv", "1,1e999\n2,3\n4,5\n6,7\n"),
        c("zero vector under cosine", &["compute", "e.npy"], "e.npy: row 2 is a zero vector; its cosine similarity is undefined (drop the row or use --sim dot)")
            .file("e.npy", f64_npy(&zero_row)),
        c("zero vector under cosine, CSV", &["compute", "e.csv"], "e.csv: line 4 (row 2) is a zero vector; its cosine similarity is undefined (drop the row or use --sim dot)")
            .file("e.csv", "a,b\n1,0.5\n-0.5,1\n0,0\n0.1,-1\n"),
        c("rows too large for float64", &["compute", "e.npy"], "e.npy: row 1 has norm 1e200; similarities of rows with norms above 1e150 cannot be computed in float64 (scale the embeddings down)")
            .file("e.npy", f64_npy(&[vec![1.0, 0.0], vec![1e200, 0.0], vec![0.0, 1.0], vec![1.0, 1.0]])),
        c("rows too small for float64", &["compute", "e.npy", "--sim", "dot"], "e.npy: row 3 has norm 1e-200; similarities of rows with norms below 1e-150 cannot be computed in float64 (scale the embeddings up)")
            .file("e.npy", f64_npy(&[vec![1.0, 0.0], vec![0.5, 0.0], vec![0.0, 1.0], vec![0.0, 1e-200]])),
        c("dot logits overflow", &["compute", "e.npy", "--sim", "dot", "--tau", "1e-250"], "e.npy: row 1 has norm 1e100; dot products of up to 1e200 divided by tau 1e-250 overflow float64 (raise --tau or scale the embeddings down)")
            .file("e.npy", f64_npy(&[vec![1.0, 0.0], vec![1e100, 0.0], vec![0.0, 1.0], vec![1.0, 1.0]])),
        // Index files.
        c("index out of range", &["compute", "e.npy", "--pairs", "p.csv"], "p.csv: line 2, positive index 9 is out of range (e.npy has 4 rows, 0-based)")
            .emb()
            .file("p.csv", "0,2\n2,9\n"),
        c("negative index", &["compute", "e.npy", "--pairs", "p.csv"], "p.csv: line 3, anchor index -1 is negative")
            .emb()
            .file("p.csv", "anchor,positive\n0,1\n-1,2\n"),
        c("self-pair", &["compute", "e.npy", "--pairs", "p.csv"], "p.csv: line 1, pairs row 3 with itself (a row is never its own candidate)")
            .emb()
            .file("p.csv", "3,3\n"),
        c("non-integer index", &["compute", "e.npy", "--pairs", "p.csv"], "p.csv: line 2, column 2: '1.5' is not an integer (pairs are row numbers: write them from an integer array, e.g. p.astype(int))")
            .emb()
            .file("p.csv", "0,1\n2,1.5\n"),
        c("whole but too large text index", &["compute", "e.npy", "--pairs", "p.csv"], "p.csv: line 2, column 1: '1e300' is out of range (too large for any file)")
            .emb()
            .file("p.csv", "0,1\n1e300,0\n"),
        c("non-numeric index", &["compute", "e.npy", "--pairs", "p.csv"], "p.csv: line 2, column 1: 'two' is not a number")
            .emb()
            .file("p.csv", "0,1\ntwo,3\n"),
        c("3 columns", &["compute", "e.npy", "--pairs", "p.csv"], "p.csv: line 1: a pairs file needs 2 columns (anchor, positive), found 3")
            .emb()
            .file("p.csv", "0,1,2\n2,3,0\n"),
        c("ragged pairs", &["compute", "e.npy", "--pairs", "p.csv"], "p.csv: line 2: has 3 columns but line 1 has 2")
            .emb()
            .file("p.csv", "0,1\n2,3,0\n"),
        c("float npy pairs, not whole", &["compute", "e.npy", "--pairs", "p.npy"], "p.npy: row 1, positive index 2.5 is not a whole number (pairs are row numbers: save them as integers, e.g. np.save(path, p.astype(int)))")
            .emb()
            .file("p.npy", npy("<f8", false, &[2, 2], &f64_bytes(&[0.0, 1.0, 2.0, 2.5]))),
        c("npy pairs stream longer than its header says", &["compute", "e.npy", "--pairs", "-"], "<stdin>: header shape [1, 2] of int64 needs 16 data bytes, but more bytes follow them")
            .emb()
            .stdin({ let mut b = pairs_npy(&[(0, 1)]); b.push(0); b }),
        c("npy pairs of the wrong shape", &["compute", "e.npy", "--pairs", "p.npy"], "p.npy: a pairs array must have shape (P, 2), not [2, 3]")
            .emb()
            .file("p.npy", npy("|i1", false, &[2, 3], &[0, 1, 2, 1, 2, 3])),
        c("npy index out of range", &["compute", "e.npy", "--pairs", "p.npy"], "p.npy: row 1, anchor index 4 is out of range (e.npy has 4 rows, 0-based)")
            .emb()
            .file("p.npy", pairs_npy(&[(0, 1), (4, 1)])),
        c("uint64 index beyond int64", &["compute", "e.npy", "--pairs", "p.npy"], "p.npy: row 0, positive index 18446744073709551615 is out of range (too large for any file)")
            .emb()
            .file("p.npy", npy("<u8", false, &[1, 2], &[[0u8; 8], [0xff; 8]].concat())),
        c("no pairs", &["compute", "e.npy", "--pairs", "p.npy"], "p.npy: holds no pairs")
            .emb()
            .file("p.npy", npy("<i8", false, &[0, 2], &[])),
        // Layouts.
        c("odd row count, two-view", &["compute", "e.npy"], "e.npy: has 3 rows, but the two-view layout needs an even number (rows i and i+N are the two views of item i); use --pairs or --keys for other layouts")
            .file("e.npy", f64_npy(&four_rows()[..3])),
        c("layout fails, fewer rows than dimensions", &["compute", "e.npy"], "e.npy: has 3 rows, but the two-view layout needs an even number (rows i and i+N are the two views of item i); use --pairs or --keys for other layouts (e.npy has 3 rows of dimension 4: if each column is an embedding, save z.T)")
            .file("e.npy", f64_npy(&[vec![1.0, 0.0, 0.5, 0.2], vec![0.0, 1.0, 0.1, 0.3], vec![0.3, 0.3, 1.0, 0.0]])),
        c("keys with different row counts", &["compute", "e.npy", "--keys", "k.npy"], "k.npy: has 3 rows but e.npy has 4; row i of each file must be a pair")
            .emb()
            .file("k.npy", f64_npy(&four_rows()[..3])),
        c("keys with different dimension", &["compute", "e.npy", "--keys", "k.npy"], "k.npy: has dimension 3 but e.npy has dimension 2")
            .emb()
            .file("k.npy", f32_npy(&vec![vec![1.0, 2.0, 3.0]; 4])),
        c("two view files, other row count", &["compute", "e.npy", "v.npy"], "v.npy: has 3 rows but e.npy has 4; row i of each view file must be a pair (the two views of item i)")
            .emb()
            .file("v.npy", f64_npy(&four_rows()[..3])),
        c("two view files, other dimension", &["compute", "e.npy", "v.npy"], "v.npy: has dimension 3 but e.npy has dimension 2")
            .emb()
            .file("v.npy", f32_npy(&vec![vec![1.0, 2.0, 3.0]; 4])),
        // --anchor in compute.
        c("--anchor out of range", &["compute", "e.npy", "--anchor", "0,4"], "e.npy: --anchor 4 is out of range: the anchors are rows 0 to 3 (the file has 4 rows)")
            .emb(),
        c("--anchor anchors no pair", &["compute", "e.npy", "--pairs", "p.csv", "--anchor", "1"], "p.csv: --anchor 1: no pair has row 1 as its anchor")
            .emb()
            .file("p.csv", "0,2\n"),
        // --labels.
        c("labels: count differs from the rows", &["compute", "e.npy", "--labels", "l.txt"], "l.txt: holds 3 labels but e.npy has 4 rows; give one label per row")
            .emb()
            .file("l.txt", "a\nb\na\n"),
        c("labels: one too many in a text file", &["compute", "e.npy", "--labels", "l.csv"], "l.csv: holds 5 labels but e.npy has 4 rows; give one label per row (is line 1 a header? a labels text file has none: remove it, or name the column of a CSV file as FILE:NAME)")
            .emb()
            .file("l.csv", ",0\n0,a\n1,b\n2,a\n3,b\n"),
        c("labels: an empty label", &["compute", "e.npy", "--labels", "l.txt"], "l.txt: line 2: the label is empty (every row needs a label)")
            .emb()
            .file("l.txt", "a\n \nb\na\n"),
        c("labels: not UTF-8", &["compute", "e.npy", "--labels", "l.txt"], "l.txt: line 2: byte 2 (0xff) is not UTF-8 text; labels are text, one per line, or .npy")
            .emb()
            .file("l.txt", b"a\n\xff\na\nb\n".to_vec()),
        c("labels: no anchor has a positive", &["compute", "e.npy", "--labels", "l.txt"], "l.txt: gives every one of its 4 labels to a single row: no anchor has a positive (rows with equal labels are positives of each other)")
            .emb()
            .file("l.txt", "1\n2\n3\n4\n"),
        c("labels: no anchor has a negative", &["compute", "e.npy", "--labels", "l.txt"], "l.txt: gives all 4 rows one label: no anchor has a negative (every other row is a positive), so the loss is not defined")
            .emb()
            .file("l.txt", "7\n07\n7\n+7\n"),
        c("labels: .npy not 1-D", &["compute", "e.npy", "--labels", "l.npy"], "l.npy: labels must be a 1-D array, one label per row, not shape [2, 2]")
            .emb()
            .file("l.npy", npy("<i8", false, &[2, 2], &[0u8; 32])),
        c("labels: .npy floats not whole", &["compute", "e.npy", "--labels", "l.npy"], "l.npy: row 1: label 0.5 is not a whole number (labels are integers or strings: np.save(path, labels.astype(int)))")
            .emb()
            .file("l.npy", npy("<f8", false, &[4], &f64_bytes(&[1.0, 0.5, 1.0, 2.0]))),
        c("labels: no such CSV column", &["compute", "e.npy", "--labels", "l.csv:class"], "l.csv:class: has no column 'class' in its header line (it has 'id', 'label')")
            .emb()
            .file("l.csv", "id,label\n0,a\n1,b\n2,a\n3,b\n"),
        c("labels: --anchor of a skipped row", &["compute", "e.npy", "--labels", "l.txt", "--anchor", "1"], "l.txt: --anchor 1: row 1 has no positive (no other row has its label), so it is skipped")
            .emb()
            .file("l.txt", "a\nb\na\na\n"),
        c("labels: explain --anchor of a skipped row", &["explain", "e.npy", "--labels", "l.txt", "--anchor", "1"], "l.txt: --anchor 1: row 1 has no positive (no other row has its label), so it is skipped")
            .emb()
            .file("l.txt", "a\nb\na\na\n"),
        case("labels: explain --positive", &["explain", "e.npy", "--labels", "l.txt", "--positive", "2"], 2, Some("--positive picks one record of an anchor; with --labels the anchor's one record holds every positive: give --anchor I"))
            .emb()
            .file("l.txt", "a\nb\na\nb\n"),
        case("labels: explain without EMB", &["explain", "--labels", "l.txt"], 2, Some("--labels gives the rows of a file their labels: give EMB too (without it, explain shows the built-in example)"))
            .file("l.txt", "a\nb\na\nb\n"),
        case("labels: with --decoupled", &["compute", "e.npy", "--labels", "l.txt", "--decoupled"], 2, Some("--decoupled cannot be used with --labels: an anchor of the labels layout has several positives, and the loss that flag names is defined for one positive per anchor (--negatives can be used with --labels)"))
            .emb()
            .file("l.txt", "a\nb\na\nb\n"),
        case("labels: with --no-in-batch", &["compute", "e.npy", "--labels", "l.txt", "--negatives", "e.npy", "--no-in-batch"], 2, Some("--no-in-batch cannot be used with --labels: an anchor of the labels layout has several positives, and the loss that flag names is defined for one positive per anchor (--negatives can be used with --labels)"))
            .emb()
            .file("l.txt", "a\nb\na\nb\n"),
        usage("labels: with --pairs", &["compute", "e.npy", "--labels", "l.txt", "--pairs", "p.csv"]),
        usage("--multi-positive without --labels", &["compute", "e.npy", "--multi-positive", "pairwise"]),
        // explain's record.
        c("explain: --anchor past the last row", &["explain", "e.npy", "--anchor", "6"], "e.npy: --anchor 6 is out of range: the anchors are rows 0 to 3 (the file has 4 rows)")
            .emb(),
        c("explain: a row that anchors no pair", &["explain", "e.npy", "--pairs", "p.csv", "--anchor", "3"], "p.csv: --anchor 3: no pair has row 3 as its anchor")
            .emb()
            .file("p.csv", "0,1\n0,2\n"),
        c("explain: --positive not the anchor's", &["explain", "e.npy", "--pairs", "p.csv", "--anchor", "0", "--positive", "3"], "p.csv: --positive 3: the positives of row 0 are rows 1, 2")
            .emb()
            .file("p.csv", "0,1\n0,2\n"),
        c("explain: --positive not the anchor's, one positive (keys, both directions)", &["explain", "e.npy", "--keys", "k.npy", "--symmetric", "--anchor", "2", "--positive", "3"], "e.npy: --positive 3: the positive of row 2 is row 2")
            .emb()
            .file("k.npy", f64_npy(&four_rows())),
        c("explain: --positive not the anchor's, a pair listed twice", &["explain", "e.npy", "--pairs", "p.csv", "--anchor", "0", "--positive", "3"], "p.csv: --positive 3: the positives of row 0 are rows 1, 2")
            .emb()
            .file("p.csv", "0,2\n0,1\n0,2\n"),
        c("explain: --record past the last record", &["explain", "e.npy", "--record", "9"], "e.npy: --record 9 is out of range: the two-view layout has 4 records, 0 to 3")
            .emb(),
        usage("explain: --direction without --keys", &["explain", "e.npy", "--direction", "key-to-query"]),
        // Flags the parser refuses.
        usage("tau 0", &["compute", "e.npy", "--tau", "0"]),
        usage("tau -1", &["compute", "e.npy", "--tau", "-1"]),
        usage("tau nan", &["compute", "e.npy", "--tau", "nan"]),
        usage("tau inf", &["compute", "e.npy", "--tau", "inf"]),
        usage("tau abc", &["compute", "e.npy", "--tau", "abc"]),
        usage("tau list with an empty item", &["compute", "e.npy", "--tau", "0.1,,0.2"]),
        usage("tau list with a tau twice", &["compute", "e.npy", "--tau", "0.1,0.2,0.1"]),
        usage("tau range going down", &["compute", "e.npy", "--tau", "1:0.1:5"]),
        usage("tau range of one", &["compute", "e.npy", "--tau", "0.01:1:1"]),
        usage("tau range without N", &["compute", "e.npy", "--tau", "0.01:1"]),
        usage("tau range of 101", &["compute", "e.npy", "--tau", "0.01:1:101"]),
        usage("tau range with 0", &["compute", "e.npy", "--tau", "0:1:3"]),
        usage("--pairs with --keys", &["compute", "e.npy", "--pairs", "e.npy", "--keys", "e.npy"]),
        usage("--symmetric alone", &["compute", "e.npy", "--symmetric"]),
        usage("--terms with --summary", &["compute", "e.npy", "--terms", "--summary"]),
        usage("unknown flag", &["compute", "e.npy", "--frobnicate"]),
        usage("unknown --format", &["compute", "e.npy", "--format", "xml"]),
        usage("unknown --sim", &["compute", "e.npy", "--sim", "euclid"]),
        usage("--threads 0", &["compute", "e.npy", "--threads", "0"]),
        usage("--threads above 1024", &["compute", "e.npy", "--threads", "1025"]),
        usage("no EMB", &["compute"]),
        usage("--columns 0", &["compute", "e.npy", "--columns", "0:3"]),
        usage("--columns empty item", &["compute", "e.npy", "--columns", "2,,3"]),
        usage("no command", &[]),
        usage("a file without a command", &["e.npy"]),
        usage("tau -0.07", &["compute", "e.npy", "--tau", "-0.07"]),
        usage("logit scale 0", &["compute", "e.npy", "--logit-scale", "0"]),
        usage("--logit-scale with --tau", &["compute", "e.npy", "--logit-scale", "100", "--tau", "0.1"]),
        usage("VIEW2 with --keys", &["compute", "e.npy", "e.npy", "--keys", "e.npy"]),
        usage("--anchor not a number", &["compute", "e.npy", "--anchor", "x"]),
        usage("--anchor with --summary", &["compute", "e.npy", "--anchor", "1", "--summary"]),
        usage("unknown shell", &["completions", "tcsh"]),
        usage("--top-k 0", &["compute", "e.npy", "--top-k", "1,0"]),
        usage("--top-k not a whole number", &["compute", "e.npy", "--top-k", "1.5"]),
        usage("--fail-above nan", &["compute", "e.npy", "--fail-above", "nan"]),
        usage("--fail-above not a number", &["compute", "e.npy", "--fail-above", "low"]),
        case("--top-k lists a k twice", &["compute", "missing.npy", "--top-k", "5,1,5"], 2, Some("--top-k lists 5 twice: give each k once")),
        case("--plot - with the result on standard output", &["compute", "e.npy", "--plot", "-"], 2, Some("--plot - would write the picture to standard output, where the result goes: give the result -o FILE, or the picture a file"))
            .emb(),
        case("--plot names -o's file", &["compute", "e.npy", "-o", "out.svg", "--plot", "out.svg"], 2, Some("--plot out.svg names the file -o writes the result to: give them two files"))
            .emb(),
        case("-o -:NAME", &["compute", "e.npy", "-o", "-:out"], 2, Some("-:out names an array of standard input (-:NAME), not a place to write: - writes to standard output, ./-:out a file of that name"))
            .emb(),
        case("--plot -:NAME", &["compute", "e.npy", "--plot", "-:loss.svg"], 2, Some("-:loss.svg names an array of standard input (-:NAME), not a place to write: - writes to standard output, ./-:loss.svg a file of that name"))
            .emb(),
        c("--plot is an input", &["compute", "e.npy", "--plot", "./e.npy"], "./e.npy: cannot write: it is the same file as the input e.npy (EMB)")
            .emb(),
        c("--plot in a missing folder", &["compute", "e.npy", "--plot", "missing/loss.svg"], "missing/loss.svg: cannot write: folder 'missing' does not exist")
            .emb(),
        // Flags refused once the job is resolved: also one line, exit 2.
        case("EMB and --keys both stdin", &["compute", "-", "--keys", "-"], 2, Some("only one of EMB and --keys can be standard input"))
            .stdin(f64_npy(&four_rows())),
        case("EMB and VIEW2 both stdin", &["compute", "-", "-"], 2, Some("only one of EMB and VIEW2 can be standard input"))
            .stdin(f64_npy(&four_rows())),
        case("a third embedding file", &["compute", "e.npy", "e.npy", "e.npy"], 2, Some("unexpected third file 'e.npy': compute takes EMB, or the two views EMB VIEW2; for queries and keys use 'EMB --keys KEYS', for pairs of rows 'EMB --pairs PAIRS'"))
            .emb(),
        case("EMB and --pairs both stdin", &["compute", "-", "--pairs", "-"], 2, Some("only one of EMB and --pairs can be standard input"))
            .stdin(f64_npy(&four_rows())),
        // Checks of the flags alone come before any file is read: the
        // missing file is not what the message is about.
        case("explain: --direction without --keys, before reading", &["explain", "missing.npy", "--direction", "query-to-key"], 2, Some("--direction applies to --keys only (queries against keys, and keys against queries with --symmetric)")),
        case("explain: key-to-query without --symmetric", &["explain", "missing.npy", "--keys", "k.npy", "--direction", "key-to-query"], 2, Some("--direction key-to-query needs --symmetric (without it every record is query-to-key)")),
        case("explain with several temperatures", &["explain", "missing.npy", "--tau", "0.1,0.2"], 2, Some("explain takes one --tau: its table of temperatures already shows the loss at several (compute --tau sweeps a list or range)")),
        case("explain: --keys without EMB", &["explain", "--keys", "missing.npy"], 2, Some("--pairs and --keys describe a file: give EMB too (without it, explain shows the built-in example)")),
        case("two inputs on standard input, before reading", &["compute", "-", "-", "-o", "out.json"], 2, Some("only one of EMB and VIEW2 can be standard input")),
        case("--columns on .npy", &["compute", "e.npy", "--columns", "2:"], 2, Some("--columns 2: picks columns of text input, but e.npy is a .npy file"))
            .emb(),
        case("tau too small for float64", &["compute", "e.npy", "--tau", "1e-301"], 2, Some("--tau 1e-301 is too small: logits of up to 1/tau overflow float64"))
            .emb(),
        // Output.
        c("-o in a missing folder", &["compute", "e.npy", "-o", "missing/out.json"], "missing/out.json: cannot write: folder 'missing' does not exist")
            .emb(),
        c("-o is a folder", &["compute", "e.npy", "-o", "d"], "d: cannot write: is a folder, not a file")
            .emb()
            .dir("d"),
        c("-o is a folder, with '/'", &["compute", "e.npy", "-o", "d/"], "d/: cannot write: is a folder, not a file")
            .emb()
            .dir("d"),
        c("-o names a folder that is not there", &["compute", "e.npy", "-o", "new/"], "new/: cannot write: a name ending in '/' names a folder, not a file")
            .emb(),
        c("-o under a file", &["compute", "e.npy", "-o", "e.npy/out.json"], "e.npy/out.json: cannot write: 'e.npy' is not a folder")
            .emb(),
        c("-o is an input", &["compute", "e.npy", "-o", "./e.npy"], "./e.npy: cannot write: it is the same file as the input e.npy (EMB)")
            .emb(),
        c("-o is the --pairs file", &["compute", "e.npy", "--pairs", "p.csv", "-o", "p.csv"], "p.csv: cannot write: it is the same file as the input p.csv (--pairs)")
            .emb()
            .file("p.csv", "0,1\n"),
        c("-o is the --keys file", &["compute", "e.npy", "--keys", "k.npy", "-o", "k.npy"], "k.npy: cannot write: it is the same file as the input k.npy (--keys)")
            .emb()
            .file("k.npy", f64_npy(&four_rows())),
    ]
}

fn check(dir: &Path, c: &Case) -> Result<(), String> {
    for d in &c.dirs {
        fs::create_dir(dir.join(d)).unwrap();
    }
    for (name, bytes) in &c.files {
        fs::write(dir.join(name), bytes).unwrap();
    }
    let mut cmd = infonce(dir);
    cmd.args(&c.args);
    if let Some(input) = &c.stdin {
        cmd.write_stdin(input.clone());
    }
    let out = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let mut problems = Vec::new();
    if out.status.code() != Some(c.code) {
        problems.push(format!("exit {:?}, want {}", out.status.code(), c.code));
    }
    if !out.stdout.is_empty() {
        problems.push(format!(
            "stdout not empty: {}",
            String::from_utf8_lossy(&out.stdout)
        ));
    }
    if stderr.contains("panicked") {
        problems.push("panicked".into());
    }
    if let Some(want) = c.want {
        let line = stderr.strip_suffix('\n').unwrap_or(&stderr);
        let ok = line == format!("error: {want}");
        if !ok || line.contains('\n') {
            problems.push(format!("stderr {stderr:?}, want \"error: {want}\\n\""));
        }
    } else if stderr.is_empty() {
        problems.push("no message on stderr".into());
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{} ({:?}): {}",
            c.class,
            c.args,
            problems.join("; ")
        ))
    }
}

#[test]
fn every_error_class() {
    let mut failures = Vec::new();
    let all = cases();
    for c in &all {
        let dir = tempfile::tempdir().unwrap();
        if let Err(e) = check(dir.path(), c) {
            failures.push(e);
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} rows failed:\n{}",
        failures.len(),
        all.len(),
        failures.join("\n")
    );
}

#[test]
#[cfg_attr(
    infonce_test_root,
    ignore = "as root a file of mode 000 can still be read (build.rs)"
)]
fn unreadable_file() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("e.npy");
    fs::write(&path, f64_npy(&four_rows())).unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o000)).unwrap();
    assert!(
        fs::File::open(&path).is_err(),
        "a file of mode 000 can be opened here (root, or CAP_DAC_OVERRIDE): \
         this test cannot run for this user"
    );
    let c = case(
        "unreadable file",
        &["compute", "e.npy"],
        1,
        Some("e.npy: permission denied"),
    );
    let result = check(dir.path(), &c);
    fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
    result.unwrap();
}

/// Big-endian floats are supported: the same values give the same report,
/// byte for byte, whatever the byte order or width they are stored in.
#[test]
fn big_endian_floats_give_the_same_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let rows = four_rows();
    let values: Vec<f64> = rows.iter().flatten().copied().collect();
    let shape = [rows.len(), rows[0].len()];
    let f32s = |be: bool| -> Vec<u8> {
        values
            .iter()
            .flat_map(|&x| {
                if be {
                    (x as f32).to_be_bytes()
                } else {
                    (x as f32).to_le_bytes()
                }
            })
            .collect()
    };
    let f16s = |be: bool| -> Vec<u8> {
        // 1.0, 0.5, -0.5, 0.8, 0.6, 0.1 as float16 bits, rounded by numpy.
        let bits: Vec<u16> = vec![
            0x3c00, 0x3800, 0xb800, 0x3c00, 0x3a66, 0x38cd, 0x2e66, 0xbc00,
        ];
        bits.iter()
            .flat_map(|&b| if be { b.to_be_bytes() } else { b.to_le_bytes() })
            .collect()
    };
    let f64s_be: Vec<u8> = values.iter().flat_map(|x| x.to_be_bytes()).collect();
    let files = [
        ("le8.npy", npy("<f8", false, &shape, &f64_bytes(&values))),
        ("be8.npy", npy(">f8", false, &shape, &f64s_be)),
        ("le4.npy", npy("<f4", false, &shape, &f32s(false))),
        ("be4.npy", npy(">f4", false, &shape, &f32s(true))),
        ("le2.npy", npy("<f2", false, &shape, &f16s(false))),
        ("be2.npy", npy(">f2", false, &shape, &f16s(true))),
    ];
    for (name, bytes) in &files {
        fs::write(dir.path().join(name), bytes).unwrap();
    }
    for (le, be) in [
        ("le8.npy", "be8.npy"),
        ("le4.npy", "be4.npy"),
        ("le2.npy", "be2.npy"),
    ] {
        for sim in ["cosine", "dot"] {
            let a = run_json(dir.path(), &["compute", le, "--sim", sim]);
            let b = run_json(dir.path(), &["compute", be, "--sim", sim]);
            assert_eq!(a, b, "{le} vs {be}, {sim}");
        }
    }
    // And the float64 ones are the values themselves: sim(0, 2) by hand.
    let r = run_json(dir.path(), &["compute", "be8.npy", "--sim", "dot"]);
    let sim = r["anchors"][0]["sim"].as_f64().unwrap();
    assert_eq!(sim, 1.0 * 0.8 + 0.5 * 0.6);
    // The float16 file holds 0.1 as 0.0999755859375.
    let r = run_json(dir.path(), &["compute", "be2.npy", "--sim", "dot"]);
    let sim = r["anchors"][1]["sim"].as_f64().unwrap();
    // Row 1 (-0.5, 1.0) against row 3 (0.1 stored as 0.0999755859375, -1.0).
    assert_eq!(sim, -0.5 * 0.0999755859375 - 1.0);
}

/// A zero vector is fine under the dot product.
#[test]
fn zero_vector_under_dot_is_fine() {
    let dir = tempfile::tempdir().unwrap();
    let rows = vec![
        vec![1.0, 0.5],
        vec![-0.5, 1.0],
        vec![0.0, 0.0],
        vec![0.1, -1.0],
    ];
    fs::write(dir.path().join("e.npy"), f64_npy(&rows)).unwrap();
    let r = run_json(dir.path(), &["compute", "e.npy", "--sim", "dot"]);
    assert_eq!(r["anchors"][0]["sim"].as_f64(), Some(0.0));
    assert!(r["loss"].as_f64().unwrap().is_finite());
}

/// Help and version are not errors: stdout, exit 0.
#[test]
fn help_and_version_exit_0() {
    let dir = tempfile::tempdir().unwrap();
    for args in [&["--help"][..], &["--version"], &["compute", "--help"]] {
        let out = run(dir.path(), args);
        assert_eq!(out.status.code(), Some(0), "{args:?}");
        assert!(!out.stdout.is_empty() && out.stderr.is_empty(), "{args:?}");
    }
}
