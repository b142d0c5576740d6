-- The Romashka bonus regulation (rules/romashka) in DuckDB SQL.
--
-- Run it with benches/compare/duckdb_run.py, which replaces the ${...} placeholders before
-- DuckDB sees the text:
--   ${data}                  the data directory (clients, managers, plans, sales .csv)
--   ${contracts_file}        its contracts.csv (or an empty one: the file is optional)
--   ${pack}                  the rule pack directory (for tables/payout_curve.csv)
--   ${period}                the run period, e.g. 2026-Q2
--   ${cur_start} ${cur_end}  the run quarter as [start, end) dates; ${cur_last} = its last day
--   ${prev_start} ${prev_end}  the previous quarter (no Romashka rule reads it)
--   ${ya_start} ${ya_end}    the same quarter one year earlier
--   ${<param>}               every key of pack.toml [params], as an exact decimal literal
--                            (or a quoted string: ${gate_kpi})
--   ${weight_<kpi>}          the weight of each [[kpis]] entry
--
-- The script creates temp macros and tables; its last statement returns one row per manager
-- (managers.csv order) with the payout. Money is DECIMAL throughout, never DOUBLE.

SET preserve_insertion_order = true;

-- ---------------------------------------------------------------------------------------
-- Decimal helpers: the host's arithmetic (rust_decimal, 96-bit mantissa, at most 28
-- decimals), where DuckDB's would differ.
--
-- * ratio(a, b): DuckDB's `/` on DECIMAL returns a DOUBLE. The host divides exactly and
--   rounds the quotient half-to-even to 28 decimals (fewer when it is 7.92 or more: the
--   mantissa has 96 bits); its ratio() is 0 when b = 0. Here: HUGEINT long division. Result
--   DECIMAL(38,28), so |a / b| < 10^10.
-- * money_product(x, y) = round_money(x * y) as the host computes it: the exact product is
--   first rounded half-to-even to fit a 96-bit mantissa (about 29 significant digits), then
--   half-up to kopecks. The first rounding matters: 25000.0125 * 0.6666666666666666666666666666
--   (2/3 to 28 decimals) is 16666.674999999999999999998 there, hence 16666.67, not 16666.68.
--
-- Both take decimals of any scale up to 28 or integers, and run per manager and KPI (a few
-- hundred times a run), never per sales line.
-- ---------------------------------------------------------------------------------------

-- A decimal as text without trailing zeros in its fraction ('45000.0300' -> '45000.03').
CREATE OR REPLACE TEMP MACRO dec_text(x) AS
    CASE WHEN contains(CAST(x AS VARCHAR), '.')
         THEN rtrim(rtrim(CAST(x AS VARCHAR), '0'), '.') ELSE CAST(x AS VARCHAR) END;
-- Its digits without the point (the mantissa) and its number of decimals (the scale).
CREATE OR REPLACE TEMP MACRO dec_mantissa(x) AS replace(dec_text(x), '.', '')::HUGEINT;
CREATE OR REPLACE TEMP MACRO dec_scale(x) AS
    CASE WHEN strpos(dec_text(x), '.') = 0 THEN 0
         ELSE length(dec_text(x)) - strpos(dec_text(x), '.') END;
CREATE OR REPLACE TEMP MACRO pow10(j) AS CAST('1' || repeat('0', j) AS HUGEINT);
-- The number of trailing digits to drop from a mantissa m >= 0 so that it fits in 96 bits.
CREATE OR REPLACE TEMP MACRO digits_over_96_bits(m) AS
    len(list_filter(range(0, 39), lambda j: m // pow10(j) >= (1::HUGEINT << 96)));
-- q + 1 when q + r / 10^k (0 <= r < 10^k) rounds half-to-even up, else q.
CREATE OR REPLACE TEMP MACRO half_even(q, r, k) AS
    q + CASE WHEN 2 * r > pow10(k) OR (2 * r = pow10(k) AND q % 2 = 1) THEN 1 ELSE 0 END;

-- {q: floor(n * 10^e / d), r: the remainder} for n >= 0, d > 0: long division, a digit a step.
CREATE OR REPLACE TEMP MACRO long_div(n, d, e) AS
    list_reduce(range(e),
                lambda acc, i: {'q': acc.q * 10 + (acc.r * 10) // d, 'r': (acc.r * 10) % d},
                {'q': n // d, 'r': n % d});

-- n * 10^e / d rounded half-to-even (n >= 0, d > 0), as an integer at scale e; when that
-- needs more than 96 bits, the last k digits are rounded off instead (and put back as zeros).
CREATE OR REPLACE TEMP MACRO div_half_even(n, d, e) AS
    list_transform([long_div(n, d, e)], lambda qr:
        list_transform([digits_over_96_bits(qr.q)], lambda k:
            CASE WHEN k = 0 THEN
                qr.q + CASE WHEN 2 * qr.r > d OR (2 * qr.r = d AND qr.q % 2 = 1) THEN 1 ELSE 0 END
            ELSE pow10(k) * (
                qr.q // pow10(k)
                + CASE WHEN qr.q % pow10(k) > 5 * pow10(k - 1)
                         OR (qr.q % pow10(k) = 5 * pow10(k - 1)
                             AND (qr.r > 0 OR (qr.q // pow10(k)) % 2 = 1))
                       THEN 1 ELSE 0 END)
            END)[1])[1];

CREATE OR REPLACE TEMP MACRO dec28(x) AS CAST(x AS DECIMAL(38,28));

CREATE OR REPLACE TEMP MACRO ratio(a, b) AS
    CASE WHEN b = 0 THEN dec28(0)
    ELSE list_transform(
        [{'a': dec_mantissa(a), 'sa': dec_scale(a), 'b': dec_mantissa(b), 'sb': dec_scale(b)}],
        lambda x: dec28(
            CAST(sign(x.a) * sign(x.b) * div_half_even(abs(x.a), abs(x.b), 28 + x.sb - x.sa)
                 AS DECIMAL(38,0))
            * 0.0000000000000000000000000001))[1]
    END;

-- round_money(): the pack rounds half-up (away from zero) to kopecks, like DuckDB's round().
CREATE OR REPLACE TEMP MACRO round_money(x) AS CAST(round(x, 2) AS DECIMAL(18,2));

-- round_money(x * y) with the product as rust_decimal has it (see above).
CREATE OR REPLACE TEMP MACRO money_product(x, y) AS
    list_transform([{'p': dec_mantissa(x) * dec_mantissa(y), 's': dec_scale(x) + dec_scale(y)}],
        lambda v: list_transform([greatest(v.s - 28, digits_over_96_bits(abs(v.p)))], lambda t:
            -- the host's product: mantissa m at scale s
            list_transform([CASE WHEN t <= 0 THEN {'m': v.p, 's': v.s}
                                 ELSE {'m': sign(v.p) * half_even(abs(v.p) // pow10(t),
                                                                  abs(v.p) % pow10(t), t),
                                       's': v.s - t} END], lambda r:
                -- half-up to kopecks
                CAST(CAST(CASE WHEN r.s <= 2 THEN r.m * pow10(2 - r.s)
                               ELSE sign(r.m) * (abs(r.m) // pow10(r.s - 2)
                                    + CASE WHEN 2 * (abs(r.m) % pow10(r.s - 2)) >= pow10(r.s - 2)
                                           THEN 1 ELSE 0 END) END
                          AS DECIMAL(38,0)) * 0.01 AS DECIMAL(18,2)))[1])[1])[1];

-- Flags in the input files: true/1/yes (any case) are true; false/0/no/empty are false.
CREATE OR REPLACE TEMP MACRO flag(x) AS lower(trim(coalesce(x, ''))) IN ('true', '1', 'yes');

-- ---------------------------------------------------------------------------------------
-- Inputs.
-- ---------------------------------------------------------------------------------------

CREATE OR REPLACE TEMP TABLE managers AS
SELECT row_number() OVER () AS ord, manager_id, target_bonus
FROM read_csv('${data}/managers.csv', header = true, all_varchar = true,
              types = {'manager_id': 'VARCHAR', 'target_bonus': 'DECIMAL(18,2)'});

CREATE OR REPLACE TEMP TABLE clients AS
SELECT client_id,
       since,
       coalesce(market_share, 0) AS market_share,
       flag(strategic) AS strategic,
       -- extra columns: influence is a number (empty = 0), the soft signals are flags
       CAST(coalesce(nullif(trim(influence), ''), '0') AS DECIMAL(18,6)) AS influence,
       flag(image_impact) AS image_impact,
       flag(new_markets) AS new_markets,
       flag(demanding) AS demanding
FROM read_csv('${data}/clients.csv', header = true, all_varchar = true,
              types = {'client_id': 'VARCHAR', 'since': 'DATE', 'market_share': 'DECIMAL(18,6)'});

CREATE OR REPLACE TEMP TABLE plans AS
SELECT manager_id, kpi, target
FROM read_csv('${data}/plans.csv', header = true, all_varchar = true,
              types = {'manager_id': 'VARCHAR', 'period': 'VARCHAR', 'kpi': 'VARCHAR',
                       'target': 'DECIMAL(38,10)'})
WHERE upper(trim(period)) = '${period}';

CREATE OR REPLACE TEMP TABLE contracts AS
SELECT contract_id, client_id, manager_id, "end", renewed_on
FROM read_csv('${contracts_file}', header = true, all_varchar = true,
              types = {'contract_id': 'VARCHAR', 'client_id': 'VARCHAR', 'manager_id': 'VARCHAR',
                       'start': 'DATE', 'end': 'DATE', 'renewed_on': 'DATE'});

-- Decision table payout_curve: factor = base + slope * (attainment - from) on [from, to).
CREATE OR REPLACE TEMP TABLE payout_curve AS
SELECT "from", "to", base, slope, label
FROM read_csv('${pack}/tables/payout_curve.csv', header = true, all_varchar = true,
              types = {'from': 'DECIMAL(18,6)', 'to': 'DECIMAL(18,6)', 'base': 'DECIMAL(18,6)',
                       'slope': 'DECIMAL(18,6)', 'label': 'VARCHAR'});

-- The one pass over sales.csv. Lines from the end of the run quarter on are ignored (the host
-- does the same). Lines in the run quarter ('cur') and the year-ago quarter ('ya') are kept
-- per client, manager and category; older lines only count for the client's first purchase.
CREATE OR REPLACE TEMP TABLE sales_cube AS
WITH lines AS (
    SELECT client_id, manager_id, date, amount, cost,
           CASE WHEN date >= DATE '${cur_start}' THEN 'cur'
                WHEN date >= DATE '${ya_start}' AND date < DATE '${ya_end}' THEN 'ya'
           END AS win,
           nullif(category, '') AS category     -- an empty category is unknown, not a value
    FROM read_csv('${data}/sales.csv', header = true, auto_detect = false,
                  delim = ',', quote = '"', escape = '"', dateformat = '%Y-%m-%d',
                  columns = {'date': 'DATE', 'client_id': 'VARCHAR', 'manager_id': 'VARCHAR',
                             'product': 'VARCHAR', 'category': 'VARCHAR',
                             'quantity': 'VARCHAR', 'amount': 'DECIMAL(18,2)',
                             'cost': 'DECIMAL(18,2)'})
    WHERE date < DATE '${cur_end}'
)
SELECT client_id, manager_id, win,
       CASE WHEN win IS NOT NULL THEN category END AS category,
       sum(amount) AS revenue,
       sum(cost) AS cost,
       count(*) AS lines,
       min(date) AS first_date
FROM lines
GROUP BY ALL;

-- ---------------------------------------------------------------------------------------
-- Facts, key clients (stage a), KPIs (stage b).
-- ---------------------------------------------------------------------------------------

CREATE OR REPLACE TEMP TABLE kpi_results AS
WITH
-- Window totals of one client-manager pair (an "account").
account_window AS (
    SELECT client_id, manager_id, win,
           sum(revenue) AS revenue, sum(cost) AS cost, sum(lines) AS lines
    FROM sales_cube WHERE win IS NOT NULL
    GROUP BY ALL
),
-- Window totals of one client over all managers; categories = distinct categories bought.
client_window AS (
    SELECT client_id, win,
           sum(revenue) AS revenue, sum(cost) AS cost,
           count(DISTINCT category) AS categories
    FROM sales_cube WHERE win IS NOT NULL
    GROUP BY ALL
),
first_purchase AS (
    SELECT client_id, min(first_date) AS first_purchase FROM sales_cube GROUP BY ALL
),
company AS (
    SELECT coalesce(sum(revenue), 0) AS revenue,
           coalesce(sum(revenue) - sum(cost), 0) AS margin
    FROM account_window WHERE win = 'cur'
),
client_facts AS (
    SELECT c.*,
           coalesce(cur.revenue, 0) AS cur_revenue,
           coalesce(cur.revenue - cur.cost, 0) AS cur_margin,
           coalesce(cur.categories, 0) AS cur_categories,
           coalesce(ya.revenue, 0) AS ya_revenue,
           coalesce(ya.categories, 0) AS ya_categories,
           -- whole years from `since` to the last day of the quarter (0 without or after it)
           CASE WHEN c.since <= DATE '${cur_last}' THEN
               year(DATE '${cur_last}') - year(c.since)
               - CASE WHEN month(DATE '${cur_last}') * 100 + day(DATE '${cur_last}')
                           < month(c.since) * 100 + day(c.since) THEN 1 ELSE 0 END
           ELSE 0 END AS years,
           -- first purchase ever falls in the run quarter
           coalesce(fp.first_purchase >= DATE '${cur_start}', false) AS is_new
    FROM clients c
    LEFT JOIN client_window cur ON cur.client_id = c.client_id AND cur.win = 'cur'
    LEFT JOIN client_window ya ON ya.client_id = c.client_id AND ya.win = 'ya'
    LEFT JOIN first_purchase fp ON fp.client_id = c.client_id
),
-- Stage a (key_clients.rhai, classify): key = any primary criterion, or enough soft signals.
-- The host compares revenue_share = ratio(client, company) (28 decimals) with the
-- threshold; `client >= threshold x company` is the same test without a division per client
-- (the two could only differ for a company revenue above 10^24).
key_client AS (
    SELECT client_id,
           -- share of company revenue / margin in the quarter (0 when the company's is not positive)
           CASE WHEN company.revenue > 0 THEN cur_revenue >= ${key_revenue_share} * company.revenue
                ELSE 0 >= ${key_revenue_share} END
           OR CASE WHEN company.margin > 0 THEN cur_margin >= ${key_margin_share} * company.margin
                   ELSE 0 >= ${key_margin_share} END
           -- a large share of its own market and a long relationship
           OR (market_share >= ${key_market_share} AND years >= ${key_min_years})
           OR strategic
           OR influence >= ${key_influence}
           -- buys more categories than a year ago, with revenue growing
           OR (cur_categories - ya_categories >= ${key_range_growth} AND cur_revenue > ya_revenue)
           -- soft signals
           OR (image_impact::INT + new_markets::INT + demanding::INT) >= ${key_soft_score}
           AS is_key
    FROM client_facts, company
),
-- Per manager: the quarter's totals and the largest client's share of revenue.
manager_cur AS (
    SELECT manager_id,
           sum(revenue) AS revenue,
           sum(revenue) - sum(cost) AS margin,
           max(revenue) AS largest_client_revenue   -- every 'cur' account has lines
    FROM account_window WHERE win = 'cur'
    GROUP BY ALL
),
-- Per manager: key-client subtotals (key_cur, key_year_ago).
manager_key AS (
    SELECT s.manager_id,
           coalesce(sum(s.revenue) FILTER (WHERE s.win = 'cur'), 0) AS key_cur_revenue,
           count(DISTINCT s.category) FILTER (WHERE s.win = 'cur') AS key_cur_categories,
           count(DISTINCT s.category) FILTER (WHERE s.win = 'ya') AS key_ya_categories
    FROM sales_cube s JOIN key_client k USING (client_id)
    WHERE k.is_key AND s.win IS NOT NULL
    GROUP BY ALL
),
-- Per manager: key-client contracts falling due in the quarter, and those renewed by its end.
manager_contracts AS (
    SELECT ct.manager_id,
           count(*) AS due,
           count(*) FILTER (WHERE ct.renewed_on <= DATE '${cur_last}') AS renewed
    FROM contracts ct JOIN key_client k USING (client_id)
    WHERE k.is_key AND ct."end" >= DATE '${cur_start}' AND ct."end" < DATE '${cur_end}'
    GROUP BY ALL
),
-- Per manager: accounts of key clients that are new, with positive revenue in the quarter.
manager_new_key AS (
    SELECT a.manager_id, count(*) AS found
    FROM account_window a
    JOIN key_client k USING (client_id)
    JOIN client_facts f USING (client_id)
    WHERE a.win = 'cur' AND k.is_key AND f.is_new AND a.revenue > 0
    GROUP BY ALL
),
manager_facts AS (
    SELECT m.manager_id,
           coalesce(c.revenue, 0) AS cur_revenue,
           coalesce(c.margin, 0) AS cur_margin,
           CASE WHEN c.revenue > 0 THEN ratio(c.largest_client_revenue, c.revenue)
                ELSE dec28(0) END AS largest_client_share,
           coalesce(k.key_cur_revenue, 0) AS key_cur_revenue,
           coalesce(k.key_cur_categories, 0) AS key_cur_categories,
           coalesce(k.key_ya_categories, 0) AS key_ya_categories,
           coalesce(ct.due, 0) AS contracts_due,
           coalesce(ct.renewed, 0) AS contracts_renewed,
           coalesce(n.found, 0) AS new_key_found,
           pk.target AS plan_key_revenue,
           pm.target AS plan_margin,
           pn.target AS plan_new_key_clients
    FROM managers m
    LEFT JOIN manager_cur c USING (manager_id)
    LEFT JOIN manager_key k USING (manager_id)
    LEFT JOIN manager_contracts ct USING (manager_id)
    LEFT JOIN manager_new_key n USING (manager_id)
    LEFT JOIN plans pk ON pk.manager_id = m.manager_id AND pk.kpi = 'key_revenue'
    LEFT JOIN plans pm ON pm.manager_id = m.manager_id AND pm.kpi = 'margin'
    LEFT JOIN plans pn ON pn.manager_id = m.manager_id AND pn.kpi = 'new_key_clients'
),
-- Stage b (kpis.rhai). Each KPI: value, target, attainment (value / target unless the rule
-- says otherwise). A plan KPI without a plan, or with a plan <= 0, has attainment 0.
-- Types are explicit in every branch: DuckDB would otherwise pick a common DECIMAL type with
-- fewer decimals (e.g. CASE of DECIMAL(38,28) and BIGINT is DECIMAL(38,19)).
kpi_key_revenue AS (
    SELECT manager_id,
           key_cur_revenue AS value,
           coalesce(plan_key_revenue, 0) AS target,
           CASE WHEN plan_key_revenue > 0 THEN ratio(key_cur_revenue, plan_key_revenue)
                ELSE dec28(0) END AS attainment
    FROM manager_facts
),
kpi_margin AS (
    SELECT manager_id,
           cur_margin AS value,
           coalesce(plan_margin, 0) AS target,
           CASE WHEN plan_margin > 0 THEN ratio(cur_margin, plan_margin)
                ELSE dec28(0) END AS attainment
    FROM manager_facts
),
-- renewed / due against renewal_target; neutral (1) when no key-client contract fell due.
kpi_renewals AS (
    SELECT manager_id,
           CASE WHEN contracts_due = 0 THEN dec28(0)
                ELSE ratio(contracts_renewed, contracts_due) END AS value,
           ${renewal_target} AS target,
           CASE WHEN contracts_due = 0 THEN dec28(1)
                ELSE ratio(ratio(contracts_renewed, contracts_due), ${renewal_target}) END
               AS attainment
    FROM manager_facts
),
-- Lower is better: attainment = concentration_max / the largest client's share; 0 without
-- revenue.
kpi_concentration AS (
    SELECT manager_id,
           largest_client_share AS value,
           ${concentration_max} AS target,
           CASE WHEN largest_client_share = 0 THEN dec28(0)
                ELSE ratio(${concentration_max}, largest_client_share) END AS attainment
    FROM manager_facts
),
-- found / plan; a plan of 0 is neutral (1); without a plan: 1 if any were found, else 0.
kpi_new_key_clients AS (
    SELECT manager_id,
           new_key_found AS value,
           coalesce(plan_new_key_clients, 0) AS target,
           CASE WHEN plan_new_key_clients IS NULL THEN dec28(CASE WHEN new_key_found > 0 THEN 1 ELSE 0 END)
                WHEN plan_new_key_clients = 0 THEN dec28(1)
                ELSE ratio(new_key_found, plan_new_key_clients) END AS attainment
    FROM manager_facts
),
-- (categories now / a year ago) against category_growth_target; nothing a year ago: 1 if
-- anything now, else 0.
kpi_category_growth AS (
    SELECT manager_id,
           CASE WHEN key_ya_categories = 0 THEN dec28(key_cur_categories)
                ELSE ratio(key_cur_categories, key_ya_categories) END AS value,
           ${category_growth_target} AS target,
           CASE WHEN key_ya_categories = 0 THEN dec28(CASE WHEN key_cur_categories > 0 THEN 1 ELSE 0 END)
                ELSE ratio(ratio(key_cur_categories, key_ya_categories), ${category_growth_target})
           END AS attainment
    FROM manager_facts
),
kpis AS (
    SELECT manager_id, 1 AS kpi_ord, 'key_revenue' AS kpi, ${weight_key_revenue} AS weight,
           value::DECIMAL(38,20) AS value, target::DECIMAL(38,10) AS target, attainment
    FROM kpi_key_revenue
    UNION ALL
    SELECT manager_id, 2, 'margin', ${weight_margin},
           value::DECIMAL(38,20), target::DECIMAL(38,10), attainment FROM kpi_margin
    UNION ALL
    SELECT manager_id, 3, 'renewals', ${weight_renewals},
           value::DECIMAL(38,20), target::DECIMAL(38,10), attainment FROM kpi_renewals
    UNION ALL
    SELECT manager_id, 4, 'concentration', ${weight_concentration},
           value::DECIMAL(38,20), target::DECIMAL(38,10), attainment
    FROM kpi_concentration
    UNION ALL
    SELECT manager_id, 5, 'new_key_clients', ${weight_new_key_clients},
           value::DECIMAL(38,20), target::DECIMAL(38,10), attainment
    FROM kpi_new_key_clients
    UNION ALL
    SELECT manager_id, 6, 'category_growth', ${weight_category_growth},
           value::DECIMAL(38,20), target::DECIMAL(38,10), attainment
    FROM kpi_category_growth
)
SELECT manager_id, kpi_ord, kpi,
       weight::DECIMAL(18,6) AS weight,
       value::DECIMAL(38,20) AS value,      -- shown only: shares here have 20 decimals
       target::DECIMAL(38,10) AS target,
       attainment::DECIMAL(38,28) AS attainment
FROM kpis;

-- ---------------------------------------------------------------------------------------
-- Stage c (bonus.rhai): payout lines and the payout.
-- ---------------------------------------------------------------------------------------

CREATE OR REPLACE TEMP TABLE payouts AS
WITH
-- The payout factor of each KPI from the payout curve (the tier with from <= a < to).
kpi_factor AS (
    SELECT k.*,
           CASE WHEN c.slope = 0 THEN dec28(c.base)
                ELSE dec28(c.base + c.slope * (k.attainment - c."from")) END AS factor
    FROM kpi_results k
    JOIN payout_curve c
      ON (c."from" IS NULL OR k.attainment >= c."from")
     AND (c."to" IS NULL OR k.attainment < c."to")
),
-- The gate: attainment of gate_kpi below gate_attainment zeroes the bonus.
gate AS (
    SELECT manager_id, attainment >= ${gate_attainment} AS is_open
    FROM kpi_results WHERE kpi = ${gate_kpi}
),
-- One kpi line per KPI (factor up to 1) and an accelerator line for the part above 1:
-- round_money(target_bonus x weight x min(factor, 1)) and
-- round_money(target_bonus x weight x (factor - 1)). target_bonus x weight is exact.
lines AS (
    SELECT f.manager_id,
           money_product(m.target_bonus * f.weight, least(f.factor, 1))
           + CASE WHEN f.factor > 1 THEN money_product(m.target_bonus * f.weight, f.factor - 1)
                  ELSE 0 END AS amount
    FROM kpi_factor f JOIN managers m USING (manager_id)
),
totals AS (
    SELECT m.ord, m.manager_id,
           coalesce(sum(l.amount), 0) AS total,
           round_money(m.target_bonus * ${cap}) AS cap,
           coalesce(g.is_open, false) AS gate_open
    FROM managers m
    LEFT JOIN lines l USING (manager_id)
    LEFT JOIN gate g USING (manager_id)
    GROUP BY ALL
)
SELECT ord, manager_id,
       -- a cap line (cap - total) brings a total above the cap down to it
       CAST(CASE WHEN NOT gate_open THEN 0
                 WHEN total > cap THEN cap
                 ELSE total END AS DECIMAL(18,2)) AS payout
FROM totals;

SELECT manager_id, payout FROM payouts ORDER BY ord;
