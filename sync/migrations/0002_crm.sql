-- crm: the unified model across every source, one row per live record (SPEC section 5).
-- Keys are '<source>:<crm id>'; the sync engine rebuilds these tables after each sync.

create schema if not exists crm;

create table crm.users (
    user_key varchar not null,
    source varchar not null,
    source_id varchar not null,
    name varchar,
    email varchar,
    region varchar,
    territory varchar,
    is_active boolean
);
comment on table crm.users is 'CRM users (account owners, activity owners) across all sources.';
comment on column crm.users.user_key is 'Unique key: <source>:<CRM user id>.';
comment on column crm.users.source is 'Configured source the record comes from.';
comment on column crm.users.source_id is 'Id of the record in its CRM.';
comment on column crm.users.name is 'Full name.';
comment on column crm.users.email is 'E-mail address.';
comment on column crm.users.region is 'Sales region the user covers (CRM field, else the [regions] mapping of the user''s country).';
comment on column crm.users.territory is 'Sales territory the user covers.';
comment on column crm.users.is_active is 'True when the user can log in.';

create table crm.accounts (
    account_key varchar not null,
    source varchar not null,
    source_id varchar not null,
    name varchar,
    parent_account_key varchar,
    ultimate_parent_key varchar,
    owner_user_key varchar,
    industry varchar,
    country varchar,
    city varchar,
    region varchar,
    territory varchar,
    annual_revenue decimal(18, 2),
    employees integer,
    wallet_estimate_crm decimal(18, 2),
    global_match_key varchar,
    market_position_score double,
    innovation_orientation_score double,
    strategy_influence_score double,
    operational_complexity_score double,
    has_parent_cycle boolean not null default false,
    created_at timestamptz,
    modified_at timestamptz
);
comment on table crm.accounts is 'Customer accounts across all sources, one row per live account.';
comment on column crm.accounts.account_key is 'Unique key: <source>:<CRM account id>.';
comment on column crm.accounts.source is 'Configured source the record comes from.';
comment on column crm.accounts.source_id is 'Id of the account in its CRM.';
comment on column crm.accounts.name is 'Account name.';
comment on column crm.accounts.parent_account_key is 'Direct parent account (same source); NULL for a top-level account.';
comment on column crm.accounts.ultimate_parent_key is 'Top of the parent chain within the source; the account itself when it has no parent; NULL when the chain runs into a cycle.';
comment on column crm.accounts.owner_user_key is 'Account owner (crm.users.user_key).';
comment on column crm.accounts.industry is 'Industry label; NULL when the CRM has none.';
comment on column crm.accounts.country is 'Billing country.';
comment on column crm.accounts.city is 'Billing city.';
comment on column crm.accounts.region is 'Sales region: the owner''s region, else the [regions] mapping of the country.';
comment on column crm.accounts.territory is 'Sales territory: the owner''s territory.';
comment on column crm.accounts.annual_revenue is 'The customer''s own annual revenue as recorded in the CRM (not our revenue from it).';
comment on column crm.accounts.employees is 'Number of employees as recorded in the CRM.';
comment on column crm.accounts.wallet_estimate_crm is 'Wallet estimate entered in the CRM (the customer''s total annual spend on our categories); NULL when not set.';
comment on column crm.accounts.global_match_key is 'Cross-org group identifier (e.g. global D-U-N-S number); accounts sharing it belong to one global group.';
comment on column crm.accounts.market_position_score is 'Triage factor from the CRM, 1-10: the customer''s market position; NULL when not set.';
comment on column crm.accounts.innovation_orientation_score is 'Triage factor from the CRM, 1-10: how innovation-led the customer is; NULL when not set.';
comment on column crm.accounts.strategy_influence_score is 'Triage factor from the CRM, 1-10: the customer''s influence on our strategy; NULL when not set.';
comment on column crm.accounts.operational_complexity_score is 'Triage factor from the CRM, 1-10: operational complexity of serving the customer; NULL when not set.';
comment on column crm.accounts.has_parent_cycle is 'True when following parent links from this account runs into a cycle.';
comment on column crm.accounts.created_at is 'When the account was created in the CRM.';
comment on column crm.accounts.modified_at is 'When the account was last modified in the CRM.';

create table crm.contacts (
    contact_key varchar not null,
    source varchar not null,
    source_id varchar not null,
    account_key varchar,
    name varchar,
    title varchar,
    buying_role varchar,
    is_decision_maker boolean not null default false,
    email varchar,
    modified_at timestamptz
);
comment on table crm.contacts is 'People at customer accounts, one row per live contact.';
comment on column crm.contacts.contact_key is 'Unique key: <source>:<CRM contact id>.';
comment on column crm.contacts.source is 'Configured source the record comes from.';
comment on column crm.contacts.source_id is 'Id of the contact in its CRM.';
comment on column crm.contacts.account_key is 'Account the contact works for; NULL for an orphan contact.';
comment on column crm.contacts.name is 'Full name.';
comment on column crm.contacts.title is 'Job title.';
comment on column crm.contacts.buying_role is 'Role in buying decisions: decision_maker, influencer, user or gatekeeper; NULL when unknown.';
comment on column crm.contacts.is_decision_maker is 'True when buying_role is decision_maker.';
comment on column crm.contacts.email is 'E-mail address.';
comment on column crm.contacts.modified_at is 'When the contact was last modified in the CRM.';

create table crm.products (
    product_key varchar not null,
    source varchar not null,
    source_id varchar not null,
    name varchar,
    family varchar,
    product_code varchar,
    is_active boolean
);
comment on table crm.products is 'Products we sell, with their product family.';
comment on column crm.products.product_key is 'Unique key: <source>:<CRM product id>.';
comment on column crm.products.source is 'Configured source the record comes from.';
comment on column crm.products.source_id is 'Id of the product in its CRM.';
comment on column crm.products.name is 'Product name.';
comment on column crm.products.family is 'Product family, the unit of whitespace analysis.';
comment on column crm.products.product_code is 'Product code or number.';
comment on column crm.products.is_active is 'True when the product can be sold.';

create table crm.opportunities (
    opportunity_key varchar not null,
    source varchar not null,
    source_id varchar not null,
    account_key varchar,
    owner_user_key varchar,
    name varchar,
    stage varchar,
    amount decimal(18, 2),
    probability double,
    is_closed boolean not null,
    is_won boolean not null,
    close_date date,
    forecast_category varchar,
    created_at timestamptz,
    modified_at timestamptz
);
comment on table crm.opportunities is 'Sales opportunities, open and closed, one row per live opportunity.';
comment on column crm.opportunities.opportunity_key is 'Unique key: <source>:<CRM opportunity id>.';
comment on column crm.opportunities.source is 'Configured source the record comes from.';
comment on column crm.opportunities.source_id is 'Id of the opportunity in its CRM.';
comment on column crm.opportunities.account_key is 'Customer account.';
comment on column crm.opportunities.owner_user_key is 'Opportunity owner (crm.users.user_key).';
comment on column crm.opportunities.name is 'Opportunity name.';
comment on column crm.opportunities.stage is 'Sales stage as named in the CRM.';
comment on column crm.opportunities.amount is 'Amount: expected value while open, actual value once won.';
comment on column crm.opportunities.probability is 'Probability of winning, 0 to 1.';
comment on column crm.opportunities.is_closed is 'True when won or lost.';
comment on column crm.opportunities.is_won is 'True when won.';
comment on column crm.opportunities.close_date is 'Expected close date while open, actual close date once closed.';
comment on column crm.opportunities.forecast_category is 'pipeline, best_case, commit, closed or omitted.';
comment on column crm.opportunities.created_at is 'When the opportunity was created in the CRM.';
comment on column crm.opportunities.modified_at is 'When the opportunity was last modified in the CRM.';

create table crm.opportunity_lines (
    line_key varchar not null,
    source varchar not null,
    source_id varchar not null,
    opportunity_key varchar not null,
    product_key varchar,
    quantity double,
    unit_price decimal(18, 2),
    total_price decimal(18, 2)
);
comment on table crm.opportunity_lines is 'Product lines of opportunities.';
comment on column crm.opportunity_lines.line_key is 'Unique key: <source>:<CRM line id>.';
comment on column crm.opportunity_lines.source is 'Configured source the record comes from.';
comment on column crm.opportunity_lines.source_id is 'Id of the line in its CRM.';
comment on column crm.opportunity_lines.opportunity_key is 'Opportunity the line belongs to.';
comment on column crm.opportunity_lines.product_key is 'Product sold (crm.products.product_key).';
comment on column crm.opportunity_lines.quantity is 'Quantity.';
comment on column crm.opportunity_lines.unit_price is 'Price per unit.';
comment on column crm.opportunity_lines.total_price is 'Line total (quantity x unit price, after discounts).';

create table crm.opportunity_contacts (
    opportunity_contact_key varchar not null,
    source varchar not null,
    source_id varchar not null,
    opportunity_key varchar not null,
    contact_key varchar not null,
    role varchar,
    is_primary boolean
);
comment on table crm.opportunity_contacts is 'Contacts involved in an opportunity and their role in it.';
comment on column crm.opportunity_contacts.opportunity_contact_key is 'Unique key: <source>:<CRM id of the contact role>.';
comment on column crm.opportunity_contacts.source is 'Configured source the record comes from.';
comment on column crm.opportunity_contacts.source_id is 'Id of the contact role in its CRM.';
comment on column crm.opportunity_contacts.opportunity_key is 'The opportunity.';
comment on column crm.opportunity_contacts.contact_key is 'The contact.';
comment on column crm.opportunity_contacts.role is 'Role in the opportunity as named in the CRM (e.g. Decision Maker).';
comment on column crm.opportunity_contacts.is_primary is 'True for the primary contact of the opportunity.';

create table crm.activities (
    activity_key varchar not null,
    source varchar not null,
    source_id varchar not null,
    source_object varchar not null,
    account_key varchar,
    contact_key varchar,
    owner_user_key varchar,
    activity_type varchar not null,
    subject varchar,
    activity_date date,
    is_completed boolean not null
);
comment on table crm.activities is 'Calls, meetings, visits, e-mails and tasks with customers.';
comment on column crm.activities.activity_key is 'Unique key: <source>:<CRM activity id>.';
comment on column crm.activities.source is 'Configured source the record comes from.';
comment on column crm.activities.source_id is 'Id of the activity in its CRM.';
comment on column crm.activities.source_object is 'CRM object it came from: Task, Event, phonecall, appointment, email or task.';
comment on column crm.activities.account_key is 'Account the activity concerns (directly, or through its contact).';
comment on column crm.activities.contact_key is 'Contact the activity was with; NULL when none.';
comment on column crm.activities.owner_user_key is 'Who did or owns the activity (crm.users.user_key).';
comment on column crm.activities.activity_type is 'call, meeting, visit, email or task.';
comment on column crm.activities.subject is 'Subject line.';
comment on column crm.activities.activity_date is 'Date the activity happened or is due.';
comment on column crm.activities.is_completed is 'True when the activity took place (completed task or call, past meeting, sent e-mail).';
