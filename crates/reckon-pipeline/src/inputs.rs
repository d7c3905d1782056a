//! The loaded contract tables, converted once into the rows the engines read.
//!
//! [`Tables::from_loaded`] reads every loaded table through a
//! [`reckon_ingest::TableView`] (contract column constants; a missing required
//! column or a wrong type is an error, not blanks) into engine rows, tables in
//! parallel, before any stage runs. Every stage reads the same [`Tables`]
//! through [`crate::stage::RunInputs`]: the bank table is read once for cash
//! application (credits), money out (debits) and the bank exceptions; the AP
//! table once for duplicates and money out.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use polars::prelude::DataType;
use reckon_cash::{Customer, OpenItem, Receipt, RemittanceLine};
use reckon_core::col::{
    ap_invoices as ap, ar_open_items as ar, bank_accounts as ba, bank_transactions as bt, customers as cu,
    gl_journal_lines as gl, remittances as rm, vendors as ve,
};
use reckon_core::{Currency, Table};
use reckon_disbursements::Debit;
use reckon_duplicates::{Invoice, Vendor};
use reckon_ingest::{Loaded, TableView, ViewError};
use reckon_journals::{Book, Columns, Dict};

/// A loaded table the engines could not read.
#[derive(Debug, thiserror::Error)]
pub enum InputsError {
    #[error(transparent)]
    View(#[from] ViewError),
    #[error("gl_journal_lines: {0}")]
    Book(#[from] reckon_journals::RaggedBook),
}

/// The bank entries, read once.
#[derive(Debug, Default)]
pub struct Bank {
    /// Every entry as cash application reads it (the engine takes amount > 0).
    pub receipts: Vec<Receipt>,
    /// The entries with a negative amount, as money out reads them (amount positive).
    pub debits: Vec<Debit>,
    /// Each entry's bank account, in `receipts` order.
    pub account_id: Vec<String>,
}

/// A large table's rows, shared by the stages that read it and released
/// ([`Tables::release`]) once the last of them is done, so a long stage does not
/// keep another's rows alive.
#[derive(Debug, Default)]
pub struct Slot<T>(RwLock<Option<Arc<T>>>);

impl<T> Slot<T> {
    fn new(rows: Option<T>) -> Self {
        Slot(RwLock::new(rows.map(Arc::new)))
    }

    /// The rows; `None` where no file held the table.
    pub fn get(&self) -> Option<Arc<T>> {
        self.0.read().ok().and_then(|g| g.clone())
    }

    fn release(&self) {
        if let Ok(mut g) = self.0.write() {
            *g = None;
        }
    }
}

/// Every table a stage reads. The large ones are [`Slot`]s; `None` where no
/// file held the table.
#[derive(Debug, Default)]
pub struct Tables {
    pub bank: Slot<Bank>,
    pub open_items: Slot<Vec<OpenItem>>,
    pub customers: Vec<Customer>,
    pub remittances: Vec<RemittanceLine>,
    pub invoices: Slot<Vec<Invoice>>,
    pub vendors: Vec<Vendor>,
    /// `bank_accounts`: the entity each account belongs to.
    pub entity_of_account: BTreeMap<String, String>,
    pub book: Slot<Book>,
}

impl Tables {
    /// Converts every loaded table, in parallel.
    pub fn from_loaded(loaded: &Loaded) -> Result<Tables, InputsError> {
        let ((bank, open_items), ((customers, remittances), ((invoices, vendors), (accounts, book)))) = rayon::join(
            || rayon::join(|| bank(loaded), || open_items(loaded)),
            || {
                rayon::join(
                    || rayon::join(|| customers(loaded), || remittances(loaded)),
                    || {
                        rayon::join(
                            || rayon::join(|| invoices(loaded), || vendors(loaded)),
                            || rayon::join(|| entity_of_account(loaded), || book(loaded)),
                        )
                    },
                )
            },
        );
        Ok(Tables {
            bank: Slot::new(bank?),
            open_items: Slot::new(open_items?),
            customers: customers?,
            remittances: remittances?,
            invoices: Slot::new(invoices?),
            vendors: vendors?,
            entity_of_account: accounts?,
            book: Slot::new(book?),
        })
    }

    /// Open items at the open amounts a state store knows (item id → amount
    /// after reckon's applications the receivables snapshot does not show
    /// yet); an item so applied in full is not open any more. Called before
    /// any stage holds the rows, so they change in place.
    pub fn reduce_open_items(&mut self, reduced: &rustc_hash::FxHashMap<String, crate::remember::Reduced>) {
        if reduced.is_empty() {
            return;
        }
        // No stage has run: the lock cannot be poisoned, and its rows are whole.
        let slot = self.open_items.0.get_mut().unwrap_or_else(std::sync::PoisonError::into_inner);
        let Some(rows) = slot.as_mut() else { return };
        let items = Arc::make_mut(rows);
        items.retain_mut(|it| match reduced.get(&it.item_id) {
            Some(r) => {
                it.amount = r.open;
                r.open != 0
            }
            None => true,
        });
    }

    /// Drops a large table's rows (the run loop calls it when the last stage
    /// that declared the table in [`crate::stage::Stage::reads`] is done).
    pub fn release(&self, table: Table) {
        match table {
            Table::BankTransactions => self.bank.release(),
            Table::ArOpenItems => self.open_items.release(),
            Table::ApInvoices => self.invoices.release(),
            Table::GlJournalLines => self.book.release(),
            _ => {}
        }
    }

    /// The same rows, but only of the tables in `keep` (the compliance harness
    /// runs a stage on what it declares it reads).
    pub fn only(&self, keep: &[Table]) -> Tables {
        fn slot<T>(keep: &[Table], t: Table, s: &Slot<T>) -> Slot<T> {
            Slot(RwLock::new(if keep.contains(&t) { s.get() } else { None }))
        }
        fn small<T: Clone + Default>(keep: &[Table], t: Table, v: &T) -> T {
            if keep.contains(&t) { v.clone() } else { T::default() }
        }
        Tables {
            bank: slot(keep, Table::BankTransactions, &self.bank),
            open_items: slot(keep, Table::ArOpenItems, &self.open_items),
            customers: small(keep, Table::Customers, &self.customers),
            remittances: small(keep, Table::Remittances, &self.remittances),
            invoices: slot(keep, Table::ApInvoices, &self.invoices),
            vendors: small(keep, Table::Vendors, &self.vendors),
            entity_of_account: small(keep, Table::BankAccounts, &self.entity_of_account),
            book: slot(keep, Table::GlJournalLines, &self.book),
        }
    }
}

/// Reads a loaded table, if any file held it.
fn read<T>(
    loaded: &Loaded,
    table: Table,
    f: impl FnOnce(TableView<'_>) -> Result<T, ViewError>,
) -> Result<Option<T>, ViewError> {
    loaded.view(table).map(f).transpose()
}

/// `bank_transactions` as receipts, debits and accounts.
pub fn bank(loaded: &Loaded) -> Result<Option<Bank>, ViewError> {
    read(loaded, Table::BankTransactions, |v| {
        let (mut id, mut cur, mut name, mut acct, mut e2e, mut rf, mut desc, code, account) = (
            v.text(bt::TXN_ID)?,
            v.text(bt::CURRENCY)?,
            v.text(bt::COUNTERPARTY_NAME)?,
            v.text(bt::COUNTERPARTY_ACCOUNT)?,
            v.text(bt::END_TO_END_ID)?,
            v.text(bt::REFERENCE)?,
            v.text(bt::DESCRIPTION)?,
            v.text(bt::BANK_CODE)?,
            v.text(bt::ACCOUNT_ID)?,
        );
        let (amt, bd) = (v.minor(bt::AMOUNT)?, v.day(bt::BOOKING_DATE)?);
        let (iamt, mut icur) = (v.minor(bt::INSTRUCTED_AMOUNT)?, v.text(bt::INSTRUCTED_CURRENCY)?);
        let charges = v.minor(bt::CHARGES_AMOUNT)?;
        // Each value is moved out of its column on its last use (a debit's are
        // copied first), so the conversion holds one copy of the text, not two.
        let take = std::mem::take::<String>;
        let mut debits = Vec::new();
        let receipts = (0..v.height())
            .map(|i| {
                let amount = amt[i].unwrap_or(0);
                if amount < 0 {
                    debits.push(Debit {
                        txn_id: id[i].clone(),
                        amount: -amount,
                        currency: cur[i].clone(),
                        counterparty_name: name[i].clone(),
                        counterparty_account: acct[i].clone(),
                        reference: rf[i].clone(),
                        description: desc[i].clone(),
                        bank_code: code[i].clone(),
                        booking_date: bd[i].unwrap_or(0),
                    });
                }
                // Where the bank left the structured fields empty, its description may
                // still name the payer and the invoices (ACH, Fedwire: `bank_text`).
                let told = if name[i].is_empty() || rf[i].is_empty() || acct[i].is_empty() {
                    reckon_cash::bank_text::interpret(&desc[i])
                } else {
                    reckon_cash::bank_text::BankText::default()
                };
                // How much of the payer's name there is: one read from the text may be
                // cut or run on into an address; one of a payment scheme whose names
                // are short (Bacs, Faster Payments) may be cut.
                let name_form = if name[i].is_empty() {
                    told.payer_name_form()
                } else {
                    use reckon_cash::{PayerNameForm, account, bank_text};
                    let uk = |desc: &str| {
                        (account::may_be_uk_domestic(&acct[i]) && bank_text::uk_domestic_credit(desc))
                            .then_some(account::BACS_NAME_WIDTH)
                    };
                    match account::scheme_name_width(&acct[i]).or_else(|| uk(&desc[i])) {
                        Some(w) if bank_text::fills(&name[i], w) => PayerNameForm::MayBeCut,
                        _ => PayerNameForm::Whole,
                    }
                };
                Receipt {
                    txn_id: take(&mut id[i]),
                    booking_date: bd[i].unwrap_or(0),
                    amount,
                    currency: take(&mut cur[i]),
                    name_form,
                    payer_ref: told.identification_number.clone().unwrap_or_default(),
                    counterparty_name: if name[i].is_empty() {
                        told.payer_name.clone().unwrap_or_default()
                    } else {
                        take(&mut name[i])
                    },
                    // No account on the statement: an ACH originator's company id stands
                    // for it (`reckon_cash::account`).
                    counterparty_account: match (&told.originator_id, acct[i].is_empty()) {
                        (Some(id), true) => format!("ACH:{id}"),
                        _ => take(&mut acct[i]),
                    },
                    end_to_end_id: take(&mut e2e[i]),
                    reference: if rf[i].is_empty() && !told.invoices.is_empty() {
                        told.invoices.join(" ")
                    } else {
                        take(&mut rf[i])
                    },
                    description: take(&mut desc[i]),
                    instructed: iamt[i].filter(|_| !icur[i].is_empty()).map(|m| (m, take(&mut icur[i]))),
                    charges: charges[i].filter(|m| *m > 0),
                }
            })
            .collect();
        Ok(Bank { receipts, debits, account_id: account })
    })
}

/// `ar_open_items` as the engine's open items.
pub fn open_items(loaded: &Loaded) -> Result<Option<Vec<OpenItem>>, ViewError> {
    read(loaded, Table::ArOpenItems, |v| {
        let (mut iid, mut ent, mut cid, mut cname, mut inv, mut icur) = (
            v.text(ar::ITEM_ID)?,
            v.text(ar::ENTITY)?,
            v.text(ar::CUSTOMER_ID)?,
            v.text(ar::CUSTOMER_NAME)?,
            v.text(ar::INVOICE_NUMBER)?,
            v.text(ar::CURRENCY)?,
        );
        let (open, idate, due) = (v.minor(ar::AMOUNT_OPEN)?, v.day(ar::INVOICE_DATE)?, v.day(ar::DUE_DATE)?);
        Ok((0..v.height())
            .map(|i| OpenItem {
                item_id: std::mem::take(&mut iid[i]),
                entity: std::mem::take(&mut ent[i]),
                customer_id: std::mem::take(&mut cid[i]),
                customer_name: std::mem::take(&mut cname[i]),
                invoice_number: std::mem::take(&mut inv[i]),
                invoice_date: idate[i].unwrap_or(0),
                due_date: due[i],
                amount: open[i].unwrap_or(0),
                currency: std::mem::take(&mut icur[i]),
            })
            .collect())
    })
}

/// `customers`, the master cash application names payers from.
pub fn customers(loaded: &Loaded) -> Result<Vec<Customer>, ViewError> {
    Ok(read(loaded, Table::Customers, |v| {
        let (cid, n, tax) = (v.text(cu::CUSTOMER_ID)?, v.text(cu::NAME)?, v.text(cu::TAX_ID)?);
        let (aliases, ibans, payers) = (v.list(cu::ALIASES)?, v.list(cu::IBANS)?, v.list(cu::PAYER_IDS)?);
        Ok(cid
            .into_iter()
            .zip(n)
            .zip(aliases.into_iter().zip(ibans))
            .zip(tax.into_iter().zip(payers))
            .map(|(((customer_id, name), (aliases, ibans)), (tax_id, payer_ids))| Customer {
                customer_id,
                name,
                aliases,
                ibans,
                tax_id,
                payer_ids,
            })
            .collect())
    })?
    .unwrap_or_default())
}

/// `remittances`, the advice lines.
pub fn remittances(loaded: &Loaded) -> Result<Vec<RemittanceLine>, ViewError> {
    Ok(read(loaded, Table::Remittances, |v| {
        let (mut rid, mut pref, mut inv, mut cur) =
            (v.text(rm::REMITTANCE_ID)?, v.text(rm::PAYMENT_REF)?, v.text(rm::INVOICE_REF)?, v.text(rm::CURRENCY)?);
        let (paid, disc, ded) =
            (v.minor(rm::PAID_AMOUNT)?, v.minor(rm::DISCOUNT_AMOUNT)?, v.minor(rm::DEDUCTION_AMOUNT)?);
        let adate = v.day(rm::ADVICE_DATE)?;
        Ok((0..v.height())
            .map(|i| RemittanceLine {
                remittance_id: std::mem::take(&mut rid[i]),
                payment_ref: std::mem::take(&mut pref[i]),
                advice_date: adate[i],
                arrived: None,
                invoice_ref: std::mem::take(&mut inv[i]),
                paid: paid[i].unwrap_or(0),
                discount: disc[i].unwrap_or(0),
                deduction: ded[i].unwrap_or(0),
                currency: std::mem::take(&mut cur[i]),
            })
            .collect())
    })?
    .unwrap_or_default())
}

/// `ap_invoices` as duplicate detection and money out read them.
pub fn invoices(loaded: &Loaded) -> Result<Option<Vec<Invoice>>, ViewError> {
    read(loaded, Table::ApInvoices, |v| {
        let (mut doc, mut ent, mut vid, mut vn, mut tax, mut iban, mut num, mut cur, mut po, mut desc) = (
            v.text(ap::DOC_ID)?,
            v.text(ap::ENTITY)?,
            v.text(ap::VENDOR_ID)?,
            v.text(ap::VENDOR_NAME)?,
            v.text(ap::VENDOR_TAX_ID)?,
            v.text(ap::VENDOR_IBAN)?,
            v.text(ap::INVOICE_NUMBER)?,
            v.text(ap::CURRENCY)?,
            v.text(ap::PO_NUMBER)?,
            v.text(ap::DESCRIPTION)?,
        );
        let (amt, date) = (v.minor(ap::AMOUNT)?, v.day(ap::INVOICE_DATE)?);
        Ok((0..v.height())
            .map(|i| Invoice {
                doc_id: std::mem::take(&mut doc[i]),
                entity: std::mem::take(&mut ent[i]),
                vendor_id: std::mem::take(&mut vid[i]),
                vendor_name: std::mem::take(&mut vn[i]),
                tax_id: std::mem::take(&mut tax[i]),
                iban: std::mem::take(&mut iban[i]),
                invoice_number: std::mem::take(&mut num[i]),
                invoice_date: date[i].unwrap_or(0),
                amount: amt[i].unwrap_or(0),
                currency: std::mem::take(&mut cur[i]),
                po_number: std::mem::take(&mut po[i]),
                description: std::mem::take(&mut desc[i]),
            })
            .collect())
    })
}

/// `vendors`, the AP master.
pub fn vendors(loaded: &Loaded) -> Result<Vec<Vendor>, ViewError> {
    Ok(read(loaded, Table::Vendors, |v| {
        let (id, name, tax, ibans) =
            (v.text(ve::VENDOR_ID)?, v.text(ve::NAME)?, v.text(ve::TAX_ID)?, v.list(ve::IBANS)?);
        Ok(id
            .into_iter()
            .zip(name)
            .zip(tax.into_iter().zip(ibans))
            .map(|((vendor_id, name), (tax_id, ibans))| Vendor { vendor_id, name, tax_id, ibans })
            .collect())
    })?
    .unwrap_or_default())
}

/// `bank_accounts`: account → entity.
pub fn entity_of_account(loaded: &Loaded) -> Result<BTreeMap<String, String>, ViewError> {
    Ok(read(loaded, Table::BankAccounts, |v| {
        Ok(v.text(ba::ACCOUNT_ID)?.into_iter().zip(v.text(ba::ENTITY)?).collect())
    })?
    .unwrap_or_default())
}

/// The GL book: text columns interned straight from polars' string arrays (no
/// `String` per line), columns in parallel.
pub fn book(loaded: &Loaded) -> Result<Option<Book>, InputsError> {
    use rayon::prelude::*;
    let Some(v) = loaded.view(Table::GlJournalLines) else { return Ok(None) };
    let n = v.height();
    let names = [
        gl::JOURNAL_ID,
        gl::ENTITY,
        gl::ACCOUNT,
        gl::FISCAL_PERIOD,
        gl::CURRENCY,
        gl::PREPARER_ID,
        gl::APPROVER_ID,
        gl::SOURCE,
    ];
    let mut dicts: Vec<Dict> = names
        .par_iter()
        .map(|c| {
            Ok(match v.raw(c)? {
                Some(col) => {
                    let s = col.str().map_err(|_| ViewError::WrongType {
                        table: Table::GlJournalLines,
                        column: c,
                        found: col.dtype().to_string(),
                        expected: "String",
                    })?;
                    Dict::intern(s.iter().map(|v| v.unwrap_or("")))
                }
                None => Dict::intern(std::iter::repeat_n("", n)),
            })
        })
        .collect::<Result<_, ViewError>>()?;
    let mut take = || dicts.remove(0);
    let (journal_id, entity, account, fiscal_period, currency, preparer_id, approver_id, source) =
        (take(), take(), take(), take(), take(), take(), take(), take());
    let exps: Vec<u8> = currency.names().iter().map(|c| Currency::parse(c).map_or(2, |c| c.exponent())).collect();
    let exponent = (0..n).map(|i| exps[currency.id(i) as usize]).collect();
    // Timestamps are UTC microseconds.
    const DAY_US: i64 = 86_400_000_000;
    let created_us: Vec<Option<i64>> = match v.raw(gl::CREATED_AT)? {
        Some(c) => {
            let wrong = || ViewError::WrongType {
                table: Table::GlJournalLines,
                column: gl::CREATED_AT,
                found: c.dtype().to_string(),
                expected: "Datetime",
            };
            if !matches!(c.dtype(), DataType::Datetime(..)) {
                return Err(wrong().into());
            }
            let us = c.cast(&DataType::Int64).map_err(|_| wrong())?;
            us.i64().map_err(|_| wrong())?.iter().collect()
        }
        None => vec![None; n],
    };
    let created: Vec<Option<i32>> = created_us.iter().map(|v| v.map(|us| us.div_euclid(DAY_US) as i32)).collect();
    let created_hour: Vec<Option<u8>> =
        created_us.iter().map(|v| v.map(|us| (us.rem_euclid(DAY_US) / 3_600_000_000) as u8)).collect();
    let cols = Columns {
        journal_id,
        entity,
        account,
        fiscal_period,
        currency,
        preparer_id,
        approver_id,
        source,
        line_no: v.int(gl::LINE_NO)?.into_iter().map(|v| v.unwrap_or(0)).collect(),
        posting_date: v.day(gl::POSTING_DATE)?.into_iter().map(|v| v.unwrap_or(0)).collect(),
        document_date: v.day(gl::DOCUMENT_DATE)?,
        amount: v.minor(gl::AMOUNT)?.into_iter().map(|v| v.unwrap_or(0)).collect(),
        exponent,
        created_day: created,
        created_hour,
    };
    Ok(Some(Book::new(cols)?))
}
