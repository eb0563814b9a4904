//! The ledger's rules, and its bounds under arbitrary interleavings of reservations, settlements and
//! time.

use super::*;
use proptest::prelude::*;

/// 2026-11-22T00:00:00Z, a Sunday.
const DAY0: i64 = 1_795_305_600_000;

fn limits(json: &str) -> KeyLimits {
    serde_json::from_str(json).unwrap()
}

fn ticket(r: LedgerReply) -> u64 {
    match r {
        LedgerReply::Admitted { ticket } => ticket,
        other => panic!("expected admission, got {other:?}"),
    }
}

fn refusal(r: LedgerReply) -> Refusal {
    match r {
        LedgerReply::Refused { refusal } => refusal,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn requests_per_minute_slide_and_say_when_to_retry() {
    let l = limits(r#"{"requests_per_minute":2}"#);
    let mut ledger = Ledger::default();
    ticket(ledger.reserve(&l, 0.0, 0, DAY0));
    ticket(ledger.reserve(&l, 0.0, 0, DAY0 + 10_000));
    let r = refusal(ledger.reserve(&l, 0.0, 0, DAY0 + 20_000));
    assert_eq!((r.limit, r.retry_after_ms), (Limit::RequestsPerMinute, 40_000));
    let e = r.error();
    assert_eq!((e.status, e.code.as_deref(), e.retry_after_secs), (429, Some("rate_limit_exceeded"), Some(40)));
    // The first request ages out after 60 s: one slot frees, not two.
    ticket(ledger.reserve(&l, 0.0, 0, DAY0 + 60_000));
    refusal(ledger.reserve(&l, 0.0, 0, DAY0 + 60_001));
}

#[test]
fn tokens_per_minute_count_estimates_then_settled_counts() {
    let l = limits(r#"{"tokens_per_minute":1000}"#);
    let mut ledger = Ledger::default();
    let t = ticket(ledger.reserve(&l, 0.0, 600, DAY0));
    ticket(ledger.reserve(&l, 0.0, 600, DAY0 + 1));
    assert_eq!(refusal(ledger.reserve(&l, 0.0, 1, DAY0 + 2)).limit, Limit::TokensPerMinute);
    // The first request really used 100 tokens: 700 of 1000 now.
    ledger.settle(t, 0.0, 100, DAY0 + 3);
    ticket(ledger.reserve(&l, 0.0, 1, DAY0 + 4));
}

#[test]
fn a_budget_counts_reservations_and_resets_with_its_window() {
    let l = limits(r#"{"usd_per_day":1.0}"#);
    let mut ledger = Ledger::default();
    let a = ticket(ledger.reserve(&l, 0.6, 0, DAY0 + 1_000));
    let b = ticket(ledger.reserve(&l, 0.3, 0, DAY0 + 1_000));
    // 0.9 reserved: still under 1.0, so one more is admitted (the bounded overshoot).
    let c = ticket(ledger.reserve(&l, 0.3, 0, DAY0 + 1_000));
    let r = refusal(ledger.reserve(&l, 0.0, 0, DAY0 + 2_000));
    assert_eq!((r.limit, r.resets_at), (Limit::Usd(Period::Day), DAY0 + 86_400_000));
    let e = r.error();
    assert_eq!(e.code.as_deref(), Some("budget_exhausted"));
    assert!(e.message.contains("2026-11-23T00:00:00.000Z"), "{}", e.message);
    // Failed requests settle at 0: their reservations free the budget.
    ledger.settle(a, 0.0, 0, DAY0 + 3_000);
    ledger.settle(b, 0.0, 0, DAY0 + 3_000);
    ledger.settle(c, 0.5, 0, DAY0 + 3_000);
    assert_eq!(ledger.spent(Period::Day, DAY0 + 3_000), 0.5);
    ticket(ledger.reserve(&l, 0.0, 0, DAY0 + 4_000));
    // Spend counts in every window; only the day's resets at midnight.
    let tomorrow = DAY0 + 86_400_000 + 5;
    ledger.prune(tomorrow);
    assert_eq!(ledger.spent(Period::Day, tomorrow), 0.0);
    assert_eq!(ledger.spent(Period::Month, tomorrow), 0.5);
    assert_eq!(ledger.spent(Period::Week, tomorrow), 0.0, "Monday starts a new week");
}

#[test]
fn requests_per_day_count_admissions_until_the_utc_day_ends() {
    let l = limits(r#"{"requests_per_day":2,"requests_per_minute":100}"#);
    let mut ledger = Ledger::default();
    let t = ticket(ledger.reserve(&l, 0.0, 0, DAY0 + 1_000));
    ticket(ledger.reserve(&l, 0.0, 0, DAY0 + 3_600_000));
    // A failed request settles at 0 but was admitted: it still counts, as upstream calls were made.
    ledger.settle(t, 0.0, 0, DAY0 + 3_600_001);
    let r = refusal(ledger.reserve(&l, 0.0, 0, DAY0 + 7_200_000));
    let tomorrow = DAY0 + 86_400_000;
    assert_eq!(
        (r.limit, r.resets_at, r.retry_after_ms),
        (Limit::RequestsPerDay, tomorrow, tomorrow - DAY0 - 7_200_000)
    );
    let e = r.error();
    assert_eq!((e.status, e.code.as_deref(), e.retry_after_secs), (429, Some("rate_limit_exceeded"), Some(79_200)));
    assert!(
        e.message.contains("2 requests per day") && e.message.contains("2026-11-23T00:00:00.000Z"),
        "{}",
        e.message
    );
    assert_eq!(ledger.usage(DAY0 + 7_200_001).requests_today, 2, "a refused request is not counted");
    ticket(ledger.reserve(&l, 0.0, 0, tomorrow));
    assert_eq!(ledger.usage(tomorrow).requests_today, 1);
}

#[test]
fn an_abandoned_reservation_stops_holding_budget() {
    let l = limits(r#"{"usd_per_month":1.0}"#);
    let mut ledger = Ledger::default();
    let t = ticket(ledger.reserve(&l, 5.0, 0, DAY0));
    refusal(ledger.reserve(&l, 0.0, 0, DAY0 + 1));
    ticket(ledger.reserve(&l, 0.0, 0, DAY0 + PENDING_TTL_MS + 1));
    // Its late settlement still counts.
    ledger.settle(t, 2.0, 0, DAY0 + PENDING_TTL_MS + 2);
    assert_eq!(ledger.spent(Period::Month, DAY0 + PENDING_TTL_MS + 2), 2.0);
}

#[test]
fn the_ledger_survives_its_wire_form_through_the_machine() {
    let l = limits(r#"{"usd_per_day":1.0,"requests_per_minute":5,"tokens_per_minute":50}"#);
    let mut ledger = Ledger::default();
    let cmd = LedgerCommand::Reserve { limits: l, usd: 0.25, tokens: 10, settle: vec![] };
    let sent: LedgerCommand = serde_json::from_str(&serde_json::to_string(&cmd).unwrap()).unwrap();
    let reply = Ledger::apply(&mut ledger, &sent, DAY0);
    let reply: LedgerReply = serde_json::from_str(&serde_json::to_string(&reply).unwrap()).unwrap();
    assert_eq!(reply, LedgerReply::Admitted { ticket: 0 });
    let stored = Ledger::store(&mut ledger, DAY0);
    let mut back = Ledger::load(serde_json::from_str(&serde_json::to_string(&stored).unwrap()).unwrap());
    assert_eq!(back, ledger);
    assert_eq!(back.reserved(), 0.25);
    let settle = vec![Settlement { ticket: 0, usd: f64::NAN, tokens: 3 }];
    assert_eq!(Ledger::apply(&mut back, &LedgerCommand::Settle { settlements: settle }, DAY0), LedgerReply::Settled);
    assert_eq!((back.reserved(), back.spent(Period::Day, DAY0)), (0.0, 0.0), "a NaN cost counts as 0");
    // Settlements riding on a reservation are applied before it is judged.
    let l = limits(r#"{"usd_per_day":1.0}"#);
    let mut ledger = Ledger::default();
    let t = ticket(ledger.reserve(&l, 1.0, 0, DAY0));
    let cmd = LedgerCommand::Reserve {
        limits: l,
        usd: 0.1,
        tokens: 0,
        settle: vec![Settlement { ticket: t, usd: 0.2, tokens: 0 }],
    };
    assert!(matches!(Ledger::apply(&mut ledger, &cmd, DAY0 + 1), LedgerReply::Admitted { .. }));
    assert_eq!(ledger.spent(Period::Day, DAY0 + 1), 0.2);
}

#[derive(Debug, Clone)]
enum Op {
    Reserve {
        estimate: f64,
    },
    /// Settles the n-th open request (mod their count) at `actual`.
    Settle {
        nth: usize,
        actual: f64,
    },
    Wait {
        ms: i64,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0.0..2.0f64).prop_map(|estimate| Op::Reserve { estimate }),
        (any::<usize>(), 0.0..3.0f64).prop_map(|(nth, actual)| Op::Settle { nth, actual }),
        (0..8_000i64).prop_map(|ms| Op::Wait { ms }),
    ]
}

proptest! {
    /// Whatever the order of reservations, settlements and waits, (a) every admission happened
    /// while settled spend plus open reservations were under the budget and fewer than `rpm`
    /// requests had been admitted in the last minute, and (b) once everything has settled, spend
    /// exceeds the budget by at most the real cost of the requests in flight at the last admission.
    #[test]
    fn budgets_and_rates_hold_under_any_interleaving(
        budget in 0.5..10.0f64,
        rpm in 1u32..30,
        ops in proptest::collection::vec(op(), 1..120),
    ) {
        let l = KeyLimits { usd_per_day: Some(budget), requests_per_minute: Some(rpm), ..KeyLimits::default() };
        let mut ledger = Ledger::default();
        let mut now = DAY0 + 1;
        let mut open: Vec<(u64, f64)> = Vec::new(); // (ticket, estimate)
        let mut settled = 0.0f64;
        let mut admitted_at: Vec<i64> = Vec::new();
        let mut in_flight_at_last_admission: Vec<u64> = Vec::new();
        let mut actual: BTreeMap<u64, f64> = BTreeMap::new();
        for op in ops {
            match op {
                Op::Reserve { estimate } => {
                    let reserved: f64 = open.iter().map(|(_, e)| e).sum();
                    // A request counts until 60 s after the second it was admitted in began.
                    let recent = admitted_at.iter().filter(|at| **at / 1000 > now / 1000 - 60).count();
                    match ledger.reserve(&l, estimate, 0, now) {
                        LedgerReply::Admitted { ticket } => {
                            prop_assert!(settled + reserved < budget + 1e-9);
                            prop_assert!(recent < rpm as usize);
                            open.push((ticket, estimate));
                            admitted_at.push(now);
                            in_flight_at_last_admission = open.iter().map(|(t, _)| *t).collect();
                        }
                        LedgerReply::Refused { refusal } => match refusal.limit {
                            Limit::RequestsPerMinute => prop_assert!(recent >= rpm as usize),
                            Limit::Usd(_) => prop_assert!(settled + reserved >= budget - 1e-9),
                            Limit::TokensPerMinute | Limit::RequestsPerDay => prop_assert!(false, "no such limit was set"),
                        },
                        LedgerReply::Settled => prop_assert!(false, "a reservation never settles"),
                    }
                }
                Op::Settle { nth, actual: cost } if !open.is_empty() => {
                    let (t, _) = open.remove(nth % open.len());
                    ledger.settle(t, cost, 0, now);
                    settled += cost;
                    actual.insert(t, cost);
                }
                Op::Settle { .. } => {}
                Op::Wait { ms } => now += ms,
            }
            prop_assert!(ledger.reserved() >= 0.0);
        }
        for (t, _) in std::mem::take(&mut open) {
            ledger.settle(t, 1.0, 0, now);
            settled += 1.0;
            actual.insert(t, 1.0);
        }
        let spent = ledger.spent(Period::Day, now);
        prop_assert!((spent - settled).abs() < 1e-9);
        let bound = budget + in_flight_at_last_admission.iter().map(|t| actual[t]).sum::<f64>();
        prop_assert!(spent <= bound + 1e-9, "spent {spent} > bound {bound}");
    }
}
