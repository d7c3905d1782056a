//! Writes bank entries as the files banks send: camt.053, MT940 and BAI2.
//!
//! Used to test that a statement file and the CSV it was made from load to the
//! same contract rows, and to benchmark the parsers on realistic volumes.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use reckon_core::format_minor;

/// One bank entry in contract terms.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BankLine {
    pub txn_id: String,
    pub account_id: String,
    pub booking_date: String,
    pub value_date: String,
    pub amount_minor: i64,
    pub currency: String,
    pub exponent: u8,
    pub counterparty_name: String,
    pub counterparty_account: String,
    pub end_to_end_id: String,
    pub reference: String,
    pub description: String,
    pub bank_code: String,
    /// What the payer instructed in another currency: (minor units, currency, exponent).
    pub instructed: Option<(i64, String, u8)>,
}

/// Reads a generated `bank_transactions.csv` into bank lines, sorted by `txn_id`.
pub fn read_generated(path: &std::path::Path) -> std::io::Result<Vec<BankLine>> {
    let rows = crate::out::read_csv(path)?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let get = |k: &str| r.get(k).cloned().unwrap_or_default();
        let currency = get("currency");
        let cur = reckon_core::Currency::parse(&currency)
            .ok_or_else(|| std::io::Error::other(format!("unknown currency {currency}")))?;
        let amount_minor = reckon_core::parse_minor(&get("amount"), &reckon_core::MoneyFormat::CONTRACT, cur)
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        let instructed = match (get("instructed_amount"), get("instructed_currency")) {
            (a, c) if !a.is_empty() && !c.is_empty() => {
                let ic = reckon_core::Currency::parse(&c)
                    .ok_or_else(|| std::io::Error::other(format!("unknown currency {c}")))?;
                let m = reckon_core::parse_minor(&a, &reckon_core::MoneyFormat::CONTRACT, ic)
                    .map_err(|e| std::io::Error::other(e.to_string()))?;
                Some((m, c, ic.exponent()))
            }
            _ => None,
        };
        out.push(BankLine {
            instructed,
            txn_id: get("txn_id"),
            account_id: get("account_id"),
            booking_date: get("booking_date"),
            value_date: get("value_date"),
            amount_minor,
            currency,
            exponent: cur.exponent(),
            counterparty_name: get("counterparty_name"),
            counterparty_account: get("counterparty_account"),
            end_to_end_id: get("end_to_end_id"),
            reference: get("reference"),
            description: get("description"),
            bank_code: get("bank_code"),
        });
    }
    out.sort_by(|a, b| a.txn_id.cmp(&b.txn_id));
    Ok(out)
}

fn by_account(lines: &[BankLine]) -> BTreeMap<(String, String), Vec<&BankLine>> {
    let mut m: BTreeMap<(String, String), Vec<&BankLine>> = BTreeMap::new();
    for l in lines {
        m.entry((l.account_id.clone(), l.currency.clone())).or_default().push(l);
    }
    for v in m.values_mut() {
        v.sort_by(|a, b| (&a.booking_date, &a.txn_id).cmp(&(&b.booking_date, &b.txn_id)));
    }
    m
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// A camt.053.001.02 document: one statement per account, opening balance 0.
pub fn camt053(lines: &[BankLine]) -> String {
    let mut x = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Document xmlns=\"urn:iso:std:iso:20022:tech:xsd:camt.053.001.02\">\n<BkToCstmrStmt>\n<GrpHdr><MsgId>RECKON-SYNTH</MsgId><CreDtTm>2026-06-30T06:00:00Z</CreDtTm></GrpHdr>\n",
    );
    for (n, ((acct, ccy), ls)) in by_account(lines).into_iter().enumerate() {
        let exp = ls.first().map_or(2, |l| l.exponent);
        let total: i64 = ls.iter().map(|l| l.amount_minor).sum();
        let bal = |code: &str, v: i64| {
            format!(
                "<Bal><Tp><CdOrPrtry><Cd>{code}</Cd></CdOrPrtry></Tp><Amt Ccy=\"{ccy}\">{}</Amt><CdtDbtInd>{}</CdtDbtInd><Dt><Dt>2026-06-30</Dt></Dt></Bal>\n",
                format_minor(v.abs(), exp),
                if v < 0 { "DBIT" } else { "CRDT" }
            )
        };
        let _ = write!(x, "<Stmt><Id>SYNTH-{}</Id><Acct><Id>", n + 1);
        if acct.len() > 15 && acct.as_bytes()[..2].iter().all(u8::is_ascii_uppercase) {
            let _ = write!(x, "<IBAN>{}</IBAN>", xml_escape(&acct));
        } else {
            let _ = write!(x, "<Othr><Id>{}</Id></Othr>", xml_escape(&acct));
        }
        let _ = writeln!(x, "</Id><Ccy>{ccy}</Ccy></Acct>");
        x.push_str(&bal("OPBD", 0));
        x.push_str(&bal("CLBD", total));
        for l in ls {
            let dir = if l.amount_minor < 0 { "DBIT" } else { "CRDT" };
            let _ = write!(
                x,
                "<Ntry><Amt Ccy=\"{ccy}\">{}</Amt><CdtDbtInd>{dir}</CdtDbtInd><Sts>BOOK</Sts><BookgDt><Dt>{}</Dt></BookgDt>",
                format_minor(l.amount_minor.abs(), exp),
                l.booking_date
            );
            if !l.value_date.is_empty() {
                let _ = write!(x, "<ValDt><Dt>{}</Dt></ValDt>", l.value_date);
            }
            let _ = write!(x, "<AcctSvcrRef>{}</AcctSvcrRef>", xml_escape(&l.txn_id));
            let code: Vec<&str> = l.bank_code.split('-').collect();
            if code.len() == 3 {
                let _ = write!(
                    x,
                    "<BkTxCd><Domn><Cd>{}</Cd><Fmly><Cd>{}</Cd><SubFmlyCd>{}</SubFmlyCd></Fmly></Domn></BkTxCd>",
                    code[0], code[1], code[2]
                );
            }
            x.push_str("<NtryDtls><TxDtls>");
            if !l.end_to_end_id.is_empty() {
                let _ = write!(x, "<Refs><EndToEndId>{}</EndToEndId></Refs>", xml_escape(&l.end_to_end_id));
            }
            if let Some((m, c, e)) = &l.instructed {
                let _ = write!(
                    x,
                    "<AmtDtls><InstdAmt><Amt Ccy=\"{c}\">{}</Amt></InstdAmt><TxAmt><Amt Ccy=\"{ccy}\">{}</Amt></TxAmt></AmtDtls>",
                    format_minor(m.abs(), *e),
                    format_minor(l.amount_minor.abs(), exp)
                );
            }
            if !l.counterparty_name.is_empty() || !l.counterparty_account.is_empty() {
                let (p, a) = if dir == "CRDT" { ("Dbtr", "DbtrAcct") } else { ("Cdtr", "CdtrAcct") };
                x.push_str("<RltdPties>");
                if !l.counterparty_name.is_empty() {
                    let _ = write!(x, "<{p}><Nm>{}</Nm></{p}>", xml_escape(&l.counterparty_name));
                }
                if !l.counterparty_account.is_empty() {
                    let _ = write!(x, "<{a}><Id><IBAN>{}</IBAN></Id></{a}>", xml_escape(&l.counterparty_account));
                }
                x.push_str("</RltdPties>");
            }
            if !l.description.is_empty() || !l.reference.is_empty() {
                x.push_str("<RmtInf>");
                if !l.description.is_empty() {
                    let _ = write!(x, "<Ustrd>{}</Ustrd>", xml_escape(&l.description));
                }
                if !l.reference.is_empty() {
                    let _ = write!(x, "<Strd><CdtrRefInf><Ref>{}</Ref></CdtrRefInf></Strd>", xml_escape(&l.reference));
                }
                x.push_str("</RmtInf>");
            }
            x.push_str("</TxDtls></NtryDtls></Ntry>\n");
        }
        x.push_str("</Stmt>\n");
    }
    x.push_str("</BkToCstmrStmt>\n</Document>\n");
    x
}

fn swift_amount(minor: i64, exp: u8) -> String {
    format_minor(minor.abs(), exp).replace('.', ",")
}

fn yymmdd(iso: &str) -> String {
    iso.replace('-', "").get(2..).unwrap_or("").to_string()
}

/// Splits text into `?nn` subfields of at most 27 characters, starting at `first`.
fn subfields(out: &mut String, first: u32, last: u32, text: &str) {
    let chars: Vec<char> = text.chars().collect();
    for (k, chunk) in chars.chunks(27).enumerate() {
        let id = first + k as u32;
        if id > last {
            break;
        }
        let _ = write!(out, "?{id:02}{}", chunk.iter().collect::<String>());
    }
}

/// An MT940 file: one statement per account (German structured `:86:`), opening 0.
pub fn mt940(lines: &[BankLine]) -> String {
    let mut s = String::new();
    for (n, ((acct, ccy), ls)) in by_account(lines).into_iter().enumerate() {
        let exp = ls.first().map_or(2, |l| l.exponent);
        let first_day = ls.first().map_or("2026-01-01".to_string(), |l| l.booking_date.clone());
        let last_day = ls.last().map_or("2026-01-01".to_string(), |l| l.booking_date.clone());
        let total: i64 = ls.iter().map(|l| l.amount_minor).sum();
        let _ = write!(
            s,
            "{{1:F01SYNTHDEFFAXXX0000000000}}{{2:I940SYNTHDEFFXXXXN}}{{4:\r\n:20:SYNTH{}\r\n:25:{acct}\r\n:28C:{}/1\r\n:60F:C{}{ccy}0,\r\n",
            n + 1,
            n + 1,
            yymmdd(&first_day)
        );
        for l in ls {
            let mark = if l.amount_minor < 0 { "D" } else { "C" };
            let vd = if l.value_date.is_empty() { &l.booking_date } else { &l.value_date };
            let cref = if l.reference.is_empty() || l.reference.chars().count() > 16 { "NONREF" } else { &l.reference };
            let _ = write!(
                s,
                ":61:{}{}{mark}{}NTRF{cref}//{}\r\n",
                yymmdd(vd),
                &yymmdd(&l.booking_date)[2..],
                swift_amount(l.amount_minor, exp),
                l.txn_id
            );
            // Supplementary details: the original ordered amount of a cross-currency payment.
            if let Some((m, c, e)) = &l.instructed {
                let _ = write!(s, "/OCMT/{c}{}/\r\n", swift_amount(*m, *e));
            }
            let mut info =
                String::from(if l.amount_minor < 0 { "116?00SEPA-UEBERWEISUNG" } else { "166?00SEPA-GUTSCHRIFT" });
            let mut purpose = String::new();
            if !l.end_to_end_id.is_empty() {
                purpose.push_str(&format!("EREF+{}", l.end_to_end_id));
            }
            if !l.description.is_empty() {
                purpose.push_str(&format!("SVWZ+{}", l.description));
            }
            subfields(&mut info, 20, 29, &purpose);
            if !l.counterparty_account.is_empty() {
                let _ = write!(info, "?31{}", l.counterparty_account);
            }
            subfields(&mut info, 32, 33, &l.counterparty_name);
            // :86: lines are at most 65 characters.
            let chars: Vec<char> = info.chars().collect();
            let lines: Vec<String> = chars.chunks(65).map(|c| c.iter().collect()).collect();
            let _ = write!(s, ":86:{}\r\n", lines.join("\r\n"));
        }
        let _ = write!(
            s,
            ":62F:{}{}{ccy}{}\r\n-}}\r\n",
            if total < 0 { "D" } else { "C" },
            yymmdd(&last_day),
            swift_amount(total, exp)
        );
    }
    s
}

/// A BAI2 file: one group per as-of date, one account record per account, with
/// correct control totals and record counts.
pub fn bai2(lines: &[BankLine]) -> String {
    let mut by_day: BTreeMap<(String, String, String), Vec<&BankLine>> = BTreeMap::new();
    for l in lines {
        by_day.entry((l.booking_date.clone(), l.account_id.clone(), l.currency.clone())).or_default().push(l);
    }
    let mut out = vec!["01,RECKONBANK,CUSTOMER,260630,0600,1,,,2/".to_string()];
    let (mut file_total, mut groups) = (0i128, 0u64);
    type Accounts<'a> = Vec<(String, String, Vec<&'a BankLine>)>;
    let mut days: BTreeMap<String, Accounts> = BTreeMap::new();
    for ((d, a, c), ls) in by_day {
        days.entry(d).or_default().push((a, c, ls));
    }
    for (day, accts) in days {
        groups += 1;
        let mut g = vec![format!("02,CUSTOMER,RECKONBANK,1,{},0600,,2/", yymmdd(&day))];
        let mut g_total = 0i128;
        for (acct, ccy, ls) in &accts {
            let mut a = vec![format!("03,{acct},{ccy},/")];
            let mut a_total = 0i128;
            for l in ls {
                let code = if l.amount_minor < 0 { "495" } else { "195" };
                let text = l.description.replace(['\n', '\r'], " ");
                a.push(format!("16,{code},{},0,{},{},{text}", l.amount_minor.abs(), l.txn_id, l.reference));
                a_total += i128::from(l.amount_minor.abs());
            }
            a.push(format!("49,{a_total},{}/", a.len() + 1));
            g_total += a_total;
            g.extend(a);
        }
        g.push(format!("98,{g_total},{},{}/", accts.len(), g.len() + 1));
        file_total += g_total;
        out.extend(g);
    }
    out.push(format!("99,{file_total},{groups},{}/", out.len() + 1));
    out.join("\n") + "\n"
}
