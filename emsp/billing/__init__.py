"""MSP billing: our tariff plans and where they apply, VAT per country, exchange rates, and the MSP CDRs
(the driver's bill for one CPO CDR, in revisions). See `tables` for the rules; `compute` is the money
arithmetic (over `cdr_pricing`), `plans` the plan choice, `rates` VAT and FX, `reprice` the revisions,
`queries` and `export` what finance reads (architecture data flows 4 and 5).
"""
