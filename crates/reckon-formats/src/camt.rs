//! ISO 20022 camt.052 (account report), camt.053 (statement) and camt.054
//! (debit/credit notification), versions .001.02 onwards, namespace-agnostic.
//!
//! Streaming over quick-xml events with a stack of local element names: no DOM,
//! no DTD, no entity expansion (a `DOCTYPE` or an undeclared entity refuses the
//! file), bounded depth.

use quick_xml::events::Event;
use reckon_core::{Currency, MoneyFormat, format_minor, format_minor_wide, parse_minor};
use serde::Serialize;

use crate::text::{Lines, squash};
use crate::{Control, Format, FormatError, Parsed, Row, Target};

const MAX_DEPTH: usize = 64;

/// An amount with its currency, signed by its credit/debit indicator later.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct Amt {
    pub value: String,
    pub ccy: String,
}

/// A referred document of structured remittance information (`RfrdDocInf` + `RfrdDocAmt`).
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct RefDoc {
    pub number: String,
    pub due: Option<Amt>,
    pub discount: Option<Amt>,
    pub remitted: Option<Amt>,
    pub adjustment: Option<Amt>,
    pub adjustment_reason: Option<String>,
    pub adjustment_dir: Option<String>,
    pub creditor_ref: Option<String>,
}

/// One charges record (`Chrgs/Rcrd`): its amount, whether it is included in
/// (deducted from) the entry's amount (`ChrgInclInd`), and its direction.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct Charge {
    pub amount: Amt,
    pub included: Option<bool>,
    pub cdt_dbt: Option<String>,
}

/// The charges the banks deducted from a credit before booking it: the
/// records whose `ChrgInclInd` is `true` (ISO 20022 camt.053/054,
/// ChargesRecord: "Indicates whether the charges amount is included in the
/// entry amount"), not credited back (`CdtDbtInd` `CRDT`), summed. `Ok(None)`
/// when there is none, or one is in another currency than `ccy` (the charges
/// are then not evidence for this amount); an amount that cannot be read is
/// an error naming it.
pub fn deducted_charges(charges: &[Charge], ccy: &str) -> Result<Option<i64>, String> {
    let mut total: Option<i64> = None;
    for c in charges.iter().filter(|c| c.included == Some(true) && c.cdt_dbt.as_deref() != Some("CRDT")) {
        if c.amount.ccy != ccy {
            return Ok(None);
        }
        let unread = || format!("charges amount '{}' {} cannot be read", c.amount.value, c.amount.ccy);
        let cur = Currency::parse(&c.amount.ccy).ok_or_else(unread)?;
        let m = parse_minor(&c.amount.value, &MoneyFormat::CONTRACT, cur).map_err(|_| unread())?;
        if m < 0 {
            return Err(unread());
        }
        total = Some(total.unwrap_or(0).checked_add(m).ok_or_else(unread)?);
    }
    Ok(total.filter(|m| *m > 0))
}

/// One value of a charges record (`Chrgs/Rcrd/<field>`) into `charges`:
/// `Amt` opens a record (it comes first in a ChargesRecord), the indicators
/// fill the last one. `value` is the element's text with its `Ccy`.
fn charge_value(charges: &mut Vec<Charge>, field: &str, value: Amt) {
    match (field, charges.last_mut()) {
        ("Amt", _) => charges.push(Charge { amount: value, ..Charge::default() }),
        ("ChrgInclInd", Some(c)) => c.included = Some(value.value == "true" || value.value == "1"),
        ("CdtDbtInd", Some(c)) => c.cdt_dbt = Some(value.value).filter(|v| !v.is_empty()),
        _ => {}
    }
}

/// Transaction details (`TxDtls`).
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct Tx {
    pub end_to_end_id: Option<String>,
    pub acct_svcr_ref: Option<String>,
    pub amount: Option<Amt>,
    /// What the payer instructed before conversion (`AmtDtls/InstdAmt/Amt`).
    pub instructed: Option<Amt>,
    pub cdt_dbt: Option<String>,
    pub debtor: Option<String>,
    pub debtor_account: Option<String>,
    pub creditor: Option<String>,
    pub creditor_account: Option<String>,
    pub ultimate_debtor: Option<String>,
    pub unstructured: Vec<String>,
    pub creditor_refs: Vec<String>,
    pub documents: Vec<RefDoc>,
    /// `TxDtls/AddtlTxInf`: free text some banks give only here.
    pub additional_info: Option<String>,
    /// `TxDtls/Chrgs/Rcrd`.
    pub charges: Vec<Charge>,
}

/// An entry (`Ntry`).
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct Entry {
    pub line: u64,
    pub amount: Amt,
    pub cdt_dbt: String,
    pub reversal: bool,
    pub status: String,
    pub booking_date: Option<String>,
    pub value_date: Option<String>,
    pub entry_ref: Option<String>,
    pub acct_svcr_ref: Option<String>,
    pub bank_code: Option<String>,
    pub additional_info: Option<String>,
    /// `Ntry/Chrgs/Rcrd`.
    pub charges: Vec<Charge>,
    pub txs: Vec<Tx>,
}

/// A balance (`Bal`).
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct Bal {
    pub code: String,
    pub amount: Amt,
    pub cdt_dbt: String,
    pub date: Option<String>,
}

/// A statement, report or notification.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct Statement {
    pub line: u64,
    pub id: String,
    pub created: Option<String>,
    pub account: String,
    pub currency: Option<String>,
    pub balances: Vec<Bal>,
    pub entries: Vec<Entry>,
}

/// A parsed camt document.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct Document {
    pub message: u16,
    pub created: Option<String>,
    pub statements: Vec<Statement>,
}

fn xml_err(e: impl std::fmt::Display, line: u64) -> FormatError {
    FormatError::Xml(format!("line {line}: {e}"))
}

/// Decodes an XML file to UTF-8 text (UTF-8, or the encoding its declaration names).
fn xml_text(bytes: &[u8]) -> Result<std::borrow::Cow<'_, str>, FormatError> {
    let body = bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]).unwrap_or(bytes);
    if let Ok(s) = std::str::from_utf8(body) {
        return Ok(std::borrow::Cow::Borrowed(s));
    }
    let head = String::from_utf8_lossy(&body[..body.len().min(200)]).to_ascii_lowercase();
    let enc = head
        .split("encoding=")
        .nth(1)
        .and_then(|r| r.trim_start_matches(['"', '\'']).split(['"', '\'']).next())
        .and_then(|label| encoding_rs::Encoding::for_label(label.as_bytes()));
    match enc {
        Some(e) => Ok(std::borrow::Cow::Owned(e.decode(body).0.into_owned())),
        None => Err(FormatError::Xml("not valid UTF-8 and no usable encoding declaration".into())),
    }
}

/// Parses a camt.052/053/054 document into its model.
pub fn document(bytes: &[u8]) -> Result<Document, FormatError> {
    let text = xml_text(bytes)?;
    let lines = Lines::new(text.as_bytes());
    let mut rd = quick_xml::Reader::from_str(&text);
    rd.config_mut().check_end_names = true;
    let mut doc = Document::default();
    let mut stack: Vec<String> = Vec::new();
    // Context indices into the stack where the current Stmt/Ntry/TxDtls/Bal/Strd begin.
    let mut ctx_stmt: Option<usize> = None;
    let mut ctx_ntry: Option<usize> = None;
    let mut ctx_tx: Option<usize> = None;
    let mut ctx_bal: Option<usize> = None;
    let mut ctx_strd: Option<usize> = None;
    let mut cur_ccy = String::new();
    let mut text_buf = String::new();
    loop {
        let pos = rd.buffer_position() as usize;
        let line = lines.line_of(pos);
        let ev = rd.read_event().map_err(|e| xml_err(e, lines.line_of(rd.error_position() as usize)))?;
        match ev {
            Event::DocType(_) => {
                return Err(FormatError::Xml(format!(
                    "line {line}: DOCTYPE declarations are not accepted (no DTD or entity processing)"
                )));
            }
            Event::Start(e) => {
                let name = e.local_name().as_ref().to_string();
                if stack.len() >= MAX_DEPTH {
                    return Err(FormatError::Xml(format!("line {line}: nesting deeper than {MAX_DEPTH}")));
                }
                cur_ccy.clear();
                for a in e.attributes().flatten() {
                    if a.key.local_name().as_ref() == "Ccy" {
                        cur_ccy = a.value.trim().to_string();
                    }
                }
                let depth = stack.len();
                match name.as_str() {
                    "BkToCstmrStmt" => doc.message = 53,
                    "BkToCstmrAcctRpt" => doc.message = 52,
                    "BkToCstmrDbtCdtNtfctn" => doc.message = 54,
                    "Stmt" | "Rpt" | "Ntfctn" if ctx_stmt.is_none() => {
                        ctx_stmt = Some(depth);
                        doc.statements.push(Statement { line, ..Statement::default() });
                    }
                    "Ntry" if ctx_stmt.is_some() && ctx_ntry.is_none() => {
                        ctx_ntry = Some(depth);
                        if let Some(s) = doc.statements.last_mut() {
                            s.entries.push(Entry { line, ..Entry::default() });
                        }
                    }
                    "TxDtls" if ctx_ntry.is_some() && ctx_tx.is_none() => {
                        ctx_tx = Some(depth);
                        if let Some(n) = doc.statements.last_mut().and_then(|s| s.entries.last_mut()) {
                            n.txs.push(Tx::default());
                        }
                    }
                    "Bal" if ctx_stmt.is_some() && ctx_ntry.is_none() => {
                        ctx_bal = Some(depth);
                        if let Some(s) = doc.statements.last_mut() {
                            s.balances.push(Bal::default());
                        }
                    }
                    "Strd" if ctx_tx.is_some() => {
                        ctx_strd = Some(depth);
                    }
                    "RfrdDocInf" if ctx_strd.is_some() => {
                        if let Some(t) = cur_tx(&mut doc) {
                            // A new document unless the current one has no number yet.
                            if t.documents.last().is_none_or(|d| !d.number.is_empty()) {
                                t.documents.push(RefDoc::default());
                            }
                        }
                    }
                    _ => {}
                }
                stack.push(name);
                text_buf.clear();
            }
            Event::Empty(_) => {}
            Event::Text(t) => text_buf.push_str(&t.xml10_content()),
            Event::CData(t) => text_buf.push_str(&t.into_inner()),
            Event::GeneralRef(r) => {
                let name = r.as_ref().to_string();
                let c = match name.as_str() {
                    "amp" => Some('&'),
                    "lt" => Some('<'),
                    "gt" => Some('>'),
                    "quot" => Some('"'),
                    "apos" => Some('\''),
                    _ => r.resolve_char_ref().ok().flatten(),
                };
                match c {
                    Some(c) => text_buf.push(c),
                    None => {
                        return Err(FormatError::Xml(format!(
                            "line {line}: entity &{name}; is not expanded (external and custom entities are refused)"
                        )));
                    }
                }
            }
            Event::End(_) => {
                let depth = stack.len().saturating_sub(1);
                let value = text_buf.trim().to_string();
                text_buf.clear();
                // Container elements end with no text of their own; only leaves carry values.
                if !value.is_empty() {
                    assign(&mut doc, &stack, &value, &cur_ccy, ctx_stmt, ctx_ntry, ctx_tx, ctx_bal, ctx_strd);
                }
                stack.pop();
                if ctx_strd == Some(depth) {
                    ctx_strd = None;
                }
                if ctx_tx == Some(depth) {
                    ctx_tx = None;
                }
                if ctx_bal == Some(depth) {
                    ctx_bal = None;
                }
                if ctx_ntry == Some(depth) {
                    ctx_ntry = None;
                }
                if ctx_stmt == Some(depth) {
                    ctx_stmt = None;
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if !stack.is_empty() {
        return Err(FormatError::Xml(format!("truncated document: <{}> is never closed", stack.join("><"))));
    }
    if doc.message == 0 {
        return Err(FormatError::Unknown(
            "XML without BkToCstmrStmt, BkToCstmrAcctRpt or BkToCstmrDbtCdtNtfctn".into(),
        ));
    }
    Ok(doc)
}

fn cur_tx(doc: &mut Document) -> Option<&mut Tx> {
    doc.statements.last_mut()?.entries.last_mut()?.txs.last_mut()
}

fn rel(stack: &[String], from: Option<usize>) -> Option<Vec<&str>> {
    from.map(|d| stack[d + 1..].iter().map(String::as_str).collect())
}

#[allow(clippy::too_many_arguments)]
fn assign(
    doc: &mut Document,
    stack: &[String],
    v: &str,
    ccy: &str,
    ctx_stmt: Option<usize>,
    ctx_ntry: Option<usize>,
    ctx_tx: Option<usize>,
    ctx_bal: Option<usize>,
    ctx_strd: Option<usize>,
) {
    let val = || Some(v.to_string()).filter(|s| !s.is_empty());
    let amt = || Amt { value: v.to_string(), ccy: ccy.to_string() };
    // Group header creation time.
    if ctx_stmt.is_none() {
        if stack.len() >= 2 && stack[stack.len() - 2] == "GrpHdr" && stack[stack.len() - 1] == "CreDtTm" {
            doc.created = val();
        }
        return;
    }
    if let Some(r) = rel(stack, ctx_strd) {
        let Some(t) = cur_tx(doc) else { return };
        let path = r.join("/");
        if path == "CdtrRefInf/Ref" {
            if let Some(d) = t.documents.last_mut() {
                d.creditor_ref = val();
            }
            t.creditor_refs.push(v.to_string());
            return;
        }
        let d = match t.documents.last_mut() {
            Some(d) => d,
            None => {
                if !path.starts_with("RfrdDocAmt") {
                    return;
                }
                t.documents.push(RefDoc::default());
                match t.documents.last_mut() {
                    Some(d) => d,
                    None => return,
                }
            }
        };
        match path.as_str() {
            "RfrdDocInf/Nb" => d.number = v.to_string(),
            "RfrdDocAmt/DuePyblAmt" => d.due = Some(amt()),
            "RfrdDocAmt/DscntApldAmt" | "RfrdDocAmt/DscntApldAmt/Amt" => d.discount = Some(amt()),
            "RfrdDocAmt/RmtdAmt" => d.remitted = Some(amt()),
            "RfrdDocAmt/AdjstmntAmtAndRsn/Amt" => d.adjustment = Some(amt()),
            "RfrdDocAmt/AdjstmntAmtAndRsn/CdtDbtInd" => d.adjustment_dir = val(),
            "RfrdDocAmt/AdjstmntAmtAndRsn/Rsn" | "RfrdDocAmt/AdjstmntAmtAndRsn/AddtlInf" => {
                d.adjustment_reason = Some(match d.adjustment_reason.take() {
                    Some(p) => format!("{p} {v}"),
                    None => v.to_string(),
                })
            }
            _ => {}
        }
        return;
    }
    if let Some(r) = rel(stack, ctx_tx) {
        let Some(t) = cur_tx(doc) else { return };
        match r.join("/").as_str() {
            "Refs/EndToEndId" => t.end_to_end_id = val().filter(|x| x != "NOTPROVIDED"),
            "Refs/AcctSvcrRef" => t.acct_svcr_ref = val(),
            "Amt" | "AmtDtls/TxAmt/Amt" if t.amount.is_none() => t.amount = Some(amt()),
            "AmtDtls/InstdAmt/Amt" => t.instructed = Some(amt()),
            "CdtDbtInd" => t.cdt_dbt = val(),
            // Party40Choice (camt.05x .001.08+): a party (`Pty`) or a financial
            // institution (`Agt/FinInstnId/Nm`).
            "RltdPties/Dbtr/Nm" | "RltdPties/Dbtr/Pty/Nm" | "RltdPties/Dbtr/Agt/FinInstnId/Nm" => t.debtor = val(),
            "RltdPties/DbtrAcct/Id/IBAN" | "RltdPties/DbtrAcct/Id/Othr/Id" => t.debtor_account = val(),
            "RltdPties/Cdtr/Nm" | "RltdPties/Cdtr/Pty/Nm" | "RltdPties/Cdtr/Agt/FinInstnId/Nm" => t.creditor = val(),
            "RltdPties/CdtrAcct/Id/IBAN" | "RltdPties/CdtrAcct/Id/Othr/Id" => t.creditor_account = val(),
            "RltdPties/UltmtDbtr/Nm" | "RltdPties/UltmtDbtr/Pty/Nm" => t.ultimate_debtor = val(),
            "RmtInf/Ustrd" => t.unstructured.push(v.to_string()),
            "AddtlTxInf" => t.additional_info = val(),
            f if f.starts_with("Chrgs/Rcrd/") => charge_value(&mut t.charges, &f["Chrgs/Rcrd/".len()..], amt()),
            _ => {}
        }
        return;
    }
    if let Some(r) = rel(stack, ctx_ntry) {
        let Some(n) = doc.statements.last_mut().and_then(|s| s.entries.last_mut()) else { return };
        match r.join("/").as_str() {
            "Amt" => n.amount = amt(),
            "CdtDbtInd" => n.cdt_dbt = v.to_string(),
            "RvslInd" => n.reversal = v == "true" || v == "1",
            "Sts" | "Sts/Cd" | "Sts/Prtry" => n.status = v.to_string(),
            "BookgDt/Dt" => n.booking_date = val(),
            "BookgDt/DtTm" => n.booking_date = v.get(0..10).map(str::to_string),
            "ValDt/Dt" => n.value_date = val(),
            "ValDt/DtTm" => n.value_date = v.get(0..10).map(str::to_string),
            "NtryRef" => n.entry_ref = val(),
            "AcctSvcrRef" => n.acct_svcr_ref = val(),
            "BkTxCd/Domn/Cd" => n.bank_code = val(),
            "BkTxCd/Domn/Fmly/Cd" | "BkTxCd/Domn/Fmly/SubFmlyCd" => {
                n.bank_code = Some(format!("{}-{v}", n.bank_code.as_deref().unwrap_or("")));
            }
            "BkTxCd/Prtry/Cd" if n.bank_code.is_none() => n.bank_code = val(),
            "AddtlNtryInf" => n.additional_info = val(),
            f if f.starts_with("Chrgs/Rcrd/") => charge_value(&mut n.charges, &f["Chrgs/Rcrd/".len()..], amt()),
            _ => {}
        }
        return;
    }
    if let Some(r) = rel(stack, ctx_bal) {
        let Some(b) = doc.statements.last_mut().and_then(|s| s.balances.last_mut()) else { return };
        match r.join("/").as_str() {
            "Tp/CdOrPrtry/Cd" | "Tp/CdOrPrtry/Prtry" => b.code = v.to_string(),
            "Amt" => b.amount = amt(),
            "CdtDbtInd" => b.cdt_dbt = v.to_string(),
            "Dt/Dt" => b.date = val(),
            "Dt/DtTm" => b.date = v.get(0..10).map(str::to_string),
            _ => {}
        }
        return;
    }
    if let Some(r) = rel(stack, ctx_stmt) {
        let Some(s) = doc.statements.last_mut() else { return };
        match r.join("/").as_str() {
            "Id" => s.id = v.to_string(),
            "CreDtTm" => s.created = val(),
            "Acct/Id/IBAN" | "Acct/Id/Othr/Id" => s.account = v.to_string(),
            "Acct/Ccy" => s.currency = val(),
            _ => {}
        }
    }
}

fn minor(a: &Amt) -> Option<(i64, Currency)> {
    let c = Currency::parse(&a.ccy)?;
    Some((parse_minor(&a.value, &MoneyFormat::CONTRACT, c).ok()?, c))
}

fn signed(a: &Amt, cdt_dbt: &str) -> Option<(i64, Currency)> {
    let (m, c) = minor(a)?;
    Some((if cdt_dbt == "DBIT" { -m } else { m }, c))
}

/// Maps a camt.052/053 document onto `bank_transactions` rows with balance controls.
pub fn bank_rows(doc: &Document) -> (Vec<Row>, Vec<Control>) {
    let mut rows = Vec::new();
    let mut controls = Vec::new();
    for (si, s) in doc.statements.iter().enumerate() {
        let scope = format!("Stmt[{}] {} {}", si + 1, s.id, s.account);
        let mut stmt_rows = Vec::new();
        // Sums of money in i128: a statement of many large entries cannot wrap.
        let mut sum: i128 = 0;
        let mut sum_ok = true;
        for (ni, n) in s.entries.iter().enumerate() {
            let booked = n.status.is_empty() || n.status == "BOOK";
            let entry_amt = signed(&n.amount, &n.cdt_dbt);
            if booked {
                match entry_amt {
                    Some((m, _)) => sum += i128::from(m),
                    None => sum_ok = false,
                }
            }
            // Batched entries split into their transactions when these carry amounts that add up.
            let split = n.txs.len() > 1 && {
                let parts: Option<Vec<i64>> = n
                    .txs
                    .iter()
                    .map(|t| {
                        t.amount
                            .as_ref()
                            .and_then(|a| signed(a, t.cdt_dbt.as_deref().unwrap_or(&n.cdt_dbt)))
                            .map(|x| x.0)
                    })
                    .collect();
                parts.is_some_and(|p| {
                    Some(p.iter().map(|m| i128::from(*m)).sum::<i128>()) == entry_amt.map(|x| i128::from(x.0))
                })
            };
            let units: Vec<(Option<&Tx>, String)> = if split {
                n.txs
                    .iter()
                    .enumerate()
                    .map(|(ti, t)| (Some(t), format!("Stmt[{}]/Ntry[{}]/TxDtls[{}]", si + 1, ni + 1, ti + 1)))
                    .collect()
            } else {
                vec![(n.txs.first(), format!("Stmt[{}]/Ntry[{}]", si + 1, ni + 1))]
            };
            // A transaction's own reference names its row only when it is its own:
            // banks repeat the entry's reference in every TxDtls of a collective
            // credit (Swiss practice), or one reference in all of them.
            let tx_refs: Vec<Option<&str>> = n.txs.iter().map(|t| t.acct_svcr_ref.as_deref()).collect();
            let own = |r: &str| tx_refs.iter().filter(|x| **x == Some(r)).count() == 1;
            for (ui, (t, position)) in units.into_iter().enumerate() {
                let mut r = Row::new(n.line, position);
                let base_id = n.acct_svcr_ref.clone().or_else(|| n.entry_ref.clone());
                let id = match (split, t.and_then(|t| t.acct_svcr_ref.clone()), &base_id) {
                    (true, Some(tid), _) if Some(&tid) != base_id.as_ref() && own(&tid) => tid,
                    (true, _, Some(b)) => format!("{b}/{}", ui + 1),
                    (false, _, Some(b)) => b.clone(),
                    _ => format!("@{}", r.position()),
                };
                r.set("txn_id", id);
                r.set("account_id", s.account.clone());
                r.set("booking_date", n.booking_date.clone().or_else(|| n.value_date.clone()).unwrap_or_default());
                r.set("value_date", n.value_date.clone().unwrap_or_default());
                let (amt, dir) = match (split, t) {
                    (true, Some(t)) => {
                        (t.amount.clone().unwrap_or_default(), t.cdt_dbt.clone().unwrap_or(n.cdt_dbt.clone()))
                    }
                    _ => (n.amount.clone(), n.cdt_dbt.clone()),
                };
                match signed(&amt, &dir) {
                    Some((m, c)) => {
                        r.set_minor("amount", m, c.exponent());
                        r.set("currency", c.code());
                    }
                    None => r.reject = Some(format!("entry amount '{}' {} cannot be read", amt.value, amt.ccy)),
                }
                if dir != "CRDT" && dir != "DBIT" {
                    r.reject = Some(format!("credit/debit indicator '{dir}' is neither CRDT nor DBIT"));
                }
                if !booked {
                    r.reject =
                        Some(format!("entry status {}: not booked (reckon reconciles booked entries)", n.status));
                }
                // Charges the banks deducted from a credit: the transaction's,
                // else (one transaction or none) the entry's.
                if dir == "CRDT" {
                    let charges = match t {
                        Some(t) if !t.charges.is_empty() => &t.charges,
                        _ if !split => &n.charges,
                        _ => &Vec::new(),
                    };
                    match (deducted_charges(charges, &amt.ccy), Currency::parse(&amt.ccy)) {
                        (Ok(Some(m)), Some(c)) => r.set_minor("charges_amount", m, c.exponent()),
                        (Err(why), _) => r.reject = Some(why),
                        _ => {}
                    }
                }
                if let Some(t) = t {
                    // A payment instructed in another currency: what the payer sent.
                    if let Some(ia) = &t.instructed
                        && ia.ccy != amt.ccy
                    {
                        match signed(ia, &dir) {
                            Some((m, c)) => {
                                r.set_minor("instructed_amount", m, c.exponent());
                                r.set("instructed_currency", c.code());
                            }
                            None => {
                                r.reject = Some(format!("instructed amount '{}' {} cannot be read", ia.value, ia.ccy))
                            }
                        }
                    }
                    let (name, acct) = if dir == "CRDT" {
                        (t.debtor.clone().or(t.ultimate_debtor.clone()), t.debtor_account.clone())
                    } else {
                        (t.creditor.clone(), t.creditor_account.clone())
                    };
                    r.set("counterparty_name", name.unwrap_or_default());
                    r.set("counterparty_account", acct.unwrap_or_default());
                    r.set("end_to_end_id", t.end_to_end_id.clone().unwrap_or_default());
                    r.set("reference", t.creditor_refs.first().cloned().unwrap_or_default());
                    let mut desc: Vec<String> = t.unstructured.clone();
                    if desc.is_empty() {
                        desc.extend(t.documents.iter().map(|d| d.number.clone()).filter(|x| !x.is_empty()));
                    }
                    // Free text where the bank put it: the transaction's, else the entry's.
                    if desc.is_empty()
                        && let Some(a) = t.additional_info.as_ref().or(n.additional_info.as_ref())
                    {
                        desc.push(a.clone());
                    }
                    r.set("description", squash(&desc.join(" ")));
                } else if let Some(a) = &n.additional_info {
                    r.set("description", squash(a));
                }
                r.set("bank_code", n.bank_code.clone().unwrap_or_default());
                stmt_rows.push(r);
            }
        }
        let find = |codes: &[&str]| s.balances.iter().find(|b| codes.contains(&b.code.as_str()));
        if let (Some(o), Some(c)) = (find(&["OPBD", "PRCD"]), find(&["CLBD"]))
            && let (Some((open, cu)), Some((close, _))) = (signed(&o.amount, &o.cdt_dbt), signed(&c.amount, &c.cdt_dbt))
        {
            {
                let e = cu.exponent();
                let (open, close) = (i128::from(open), i128::from(close));
                let ok = sum_ok && open + sum == close;
                let detail = format!(
                    "opening {} + booked entries {} = {} vs closing {} (difference {})",
                    format_minor_wide(open, e),
                    format_minor_wide(sum, e),
                    format_minor_wide(open + sum, e),
                    format_minor_wide(close, e),
                    format_minor_wide(close - open - sum, e)
                );
                if !ok {
                    for r in &mut stmt_rows {
                        r.fail_control(|| format!("statement {scope} does not tie out: {detail}"));
                    }
                }
                controls.push(Control { scope, check: "balance".into(), ok, detail });
            }
        } else if doc.message == 53 {
            // A statement (camt.053, unlike the intraday camt.052) carries its opening
            // and closing balances; without them it cannot be tied out, so its rows
            // are refused rather than loaded unchecked.
            let missing = match (find(&["OPBD", "PRCD"]), find(&["CLBD"])) {
                (None, _) => "no opening balance (Bal/Tp OPBD or PRCD)".to_string(),
                (_, None) => "no closing balance (Bal/Tp CLBD)".to_string(),
                (Some(o), Some(c)) => format!(
                    "a balance cannot be read (opening '{}' {}, closing '{}' {})",
                    o.amount.value, o.cdt_dbt, c.amount.value, c.cdt_dbt
                ),
            };
            let detail = format!("statement {scope} cannot be tied out: {missing}");
            for r in &mut stmt_rows {
                r.fail_control(|| detail.clone());
            }
            controls.push(Control { scope, check: "balance".into(), ok: false, detail });
        }
        rows.extend(stmt_rows);
    }
    (rows, controls)
}

/// Maps a camt.054 document onto `remittances` rows: one per referred document
/// (or one per transaction when it refers to none).
pub fn remittance_rows(doc: &Document) -> Vec<Row> {
    let mut rows = Vec::new();
    let advice_date = doc.created.as_deref().and_then(|c| c.get(0..10)).map(str::to_string);
    for (si, s) in doc.statements.iter().enumerate() {
        for (ni, n) in s.entries.iter().enumerate() {
            for (ti, t) in n.txs.iter().enumerate() {
                let base = format!("Ntfctn[{}]/Ntry[{}]/TxDtls[{}]", si + 1, ni + 1, ti + 1);
                let remittance_id = t
                    .acct_svcr_ref
                    .clone()
                    .or_else(|| t.end_to_end_id.clone())
                    .unwrap_or_else(|| format!("{}#{}", if s.id.is_empty() { "camt054" } else { &s.id }, base));
                let payer = if n.cdt_dbt == "DBIT" { t.creditor.clone() } else { t.debtor.clone() };
                let tx_amt = t.amount.clone().unwrap_or(n.amount.clone());
                let mut push = |k: usize, invoice: String, paid: Option<Amt>, d: Option<&RefDoc>| {
                    let mut r = Row::new(n.line, if k == 0 { base.clone() } else { format!("{base}/RfrdDoc[{k}]") });
                    r.set("remittance_id", remittance_id.clone());
                    r.set("payment_ref", t.end_to_end_id.clone().or(n.acct_svcr_ref.clone()).unwrap_or_default());
                    r.set("payer_name", payer.clone().unwrap_or_default());
                    r.set("advice_date", n.booking_date.clone().or(advice_date.clone()).unwrap_or_default());
                    r.set("invoice_ref", invoice);
                    let cur =
                        paid.as_ref().map(|a| a.ccy.clone()).filter(|c| !c.is_empty()).unwrap_or(tx_amt.ccy.clone());
                    r.set("currency", cur);
                    match paid.as_ref().and_then(minor) {
                        Some((m, c)) => r.set("paid_amount", format_minor(m, c.exponent())),
                        None => r.reject = Some("no remitted amount for this document".into()),
                    }
                    if let Some(d) = d {
                        if let Some((m, c)) = d.discount.as_ref().and_then(minor) {
                            r.set("discount_amount", format_minor(m, c.exponent()));
                        }
                        if let Some((m, c)) = d.adjustment.as_ref().and_then(minor) {
                            // A debit adjustment reduces what the payer owes us: a deduction.
                            let m = if d.adjustment_dir.as_deref() == Some("CRDT") { -m } else { m };
                            r.set("deduction_amount", format_minor(m, c.exponent()));
                        }
                        r.set("deduction_reason", d.adjustment_reason.clone().unwrap_or_default());
                    }
                    rows.push(r);
                };
                if t.documents.iter().any(|d| !d.number.is_empty()) {
                    let single = t.documents.len() == 1;
                    for (k, d) in t.documents.iter().enumerate() {
                        let paid = d.remitted.clone().or_else(|| single.then(|| tx_amt.clone()));
                        push(k + 1, d.number.clone(), paid, Some(d));
                    }
                } else {
                    let text =
                        if t.unstructured.is_empty() { t.creditor_refs.join(" ") } else { t.unstructured.join(" ") };
                    push(0, squash(&text), Some(tx_amt.clone()), None);
                }
            }
        }
    }
    rows
}

/// Parses a camt file into contract rows.
pub fn parse(bytes: &[u8]) -> Result<Parsed, FormatError> {
    let doc = document(bytes)?;
    if doc.statements.is_empty() {
        return Err(FormatError::Empty);
    }
    if doc.message == 54 {
        return Ok(Parsed {
            format: Format::Camt(54),
            target: Target::Remittances,
            rows: remittance_rows(&doc),
            controls: Vec::new(),
            statements: doc.statements.len(),
        });
    }
    let (rows, controls) = bank_rows(&doc);
    Ok(Parsed {
        format: Format::Camt(doc.message),
        target: Target::BankTransactions,
        rows,
        controls,
        statements: doc.statements.len(),
    })
}
