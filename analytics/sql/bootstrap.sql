-- Run at the start of every analyze transaction: the kam schema, and the one mart that keeps
-- rows across runs. kam.score_history is appended to (never rebuilt), and the health models read
-- the previous run's scores from it, so it must exist before any model runs.
create schema if not exists kam;

create table if not exists kam.score_history (
    run_id varchar not null,
    scored_at timestamptz not null,
    as_of_date date not null,
    account_key varchar not null,
    tier varchar,
    level varchar,
    pareto_class varchar,
    triage_score double,
    health_score double,
    health_band varchar,
    wallet_estimate double,
    wallet_source varchar,
    wallet_share double,
    headroom double,
    our_revenue_ttm double,
    call_target_per_month double,
    call_compliance double,
    days_since_last_contact integer,
    explanation varchar
);
