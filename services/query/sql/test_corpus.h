// Valid research queries shared by the SQL tests (parser, printer
// round-trip, mutation tests). Test-only; not part of datalab::sql.
#ifndef DATALAB_SERVICES_QUERY_SQL_TEST_CORPUS_H_
#define DATALAB_SERVICES_QUERY_SQL_TEST_CORPUS_H_

#include <array>
#include <string_view>

namespace datalab::sql::testing {

inline constexpr std::array<std::string_view, 40> kValidQueries = {
    // The examples from the design brief.
    "SELECT school_urn, fsm, COUNT(DISTINCT pupil) AS pupils, "
    "AVG(attainment8) FROM ks4 JOIN census USING (pupil) WHERE nc_year = 11 "
    "AND term = 'autumn-2025' GROUP BY school_urn, fsm ORDER BY school_urn",
    "SELECT sen_provision, PROPORTION(absence_pct >= 10) FROM attendance JOIN "
    "census USING (pupil, term) GROUP BY sen_provision",
    "SELECT BAND(reading_scaled_score, 80, 120, 5) AS band, COUNT(*) FROM ks2 "
    "GROUP BY 1",
    "SELECT CASE WHEN ethnicity IN ('WBRI','WIRI') THEN 'white' ELSE 'other' "
    "END AS grp, MEDIAN(progress8), PERCENTILE(progress8, 90) FROM ks4 GROUP "
    "BY grp",
    // Disadvantage gap per school.
    "SELECT school_urn, AVG(CASE WHEN disadvantaged THEN attainment8 END) - "
    "AVG(CASE WHEN NOT disadvantaged THEN attainment8 END) AS gap FROM ks4 "
    "GROUP BY school_urn HAVING COUNT(DISTINCT pupil) >= 30 ORDER BY gap DESC",
    // Persistent absence by SEN support, with a pinned version and aliases.
    "SELECT c.sen_provision AS sen, RATE(a.sessions_missed, "
    "a.sessions_possible) FROM attendance@3 AS a INNER JOIN census@7 c "
    "USING (pupil) WHERE a.term BETWEEN 'autumn-2024' AND 'summer-2025' GROUP "
    "BY c.sen_provision",
    "select count(*) from ks4 where fsm = true",
    "SELECT COUNT(*) FROM ks4;",
    "SELECT COUNT(*), STDDEV(attainment8) FROM trust.ks4 WHERE "
    "attainment8 IS NOT NULL",
    "SELECT gender, COUNT(*) AS n FROM census GROUP BY gender ORDER BY n DESC, "
    "gender ASC LIMIT 100",
    "SELECT YEAR(date_of_exclusion) AS yr, COUNT(*) FROM exclusions GROUP BY "
    "YEAR(date_of_exclusion) ORDER BY 1",
    "SELECT BAND(age, 5) AS age_band, AVG(absence_pct) FROM attendance GROUP "
    "BY BAND(age, 5)",
    "SELECT ethnicity_major, SUM(sessions) FROM attendance WHERE "
    "ethnicity_major "
    "NOT IN ('REFU', 'NOBT') AND nc_year NOT BETWEEN 12 AND 14 GROUP BY "
    "ethnicity_major",
    "SELECT \"order\", COUNT(*) FROM \"weird dataset\" AS \"t\" GROUP BY "
    "\"order\"",
    "SELECT COUNT(*) FROM ks4 WHERE (fsm = TRUE OR sen_provision <> 'N') AND "
    "NOT (attainment8 < 10.5 OR attainment8 IS NULL)",
    "SELECT COUNT(*) FROM ks4 WHERE progress8 > -0.5 AND progress8 != -1",
    "SELECT AVG(attainment8 * 2 + 1) / 3, SUM(-score) FROM ks4",
    "SELECT region, COUNT(*) FROM schools JOIN ks4 USING (school_urn) JOIN "
    "census USING (pupil, term) GROUP BY region",
    "-- disadvantage gap\nSELECT /* the school */ school_urn,\n"
    "       COUNT(DISTINCT pupil)   -- contributors\n"
    "FROM   ks4\nGROUP BY school_urn\n",
    "SELECT COALESCE(sen_provision, 'N') AS sen, COUNT(*) FROM census GROUP BY "
    "COALESCE(sen_provision, 'N')",
    "SELECT LOWER(gender), COUNT(*) FROM census GROUP BY LOWER(gender)",
    "SELECT UPPER(la_name) AS la, PERCENTILE(ks2_reading, 25), "
    "PERCENTILE(ks2_reading, 75.5) FROM ks2 GROUP BY UPPER(la_name)",
    "SELECT fsm, PROPORTION(attainment8 >= 50 AND english_pass) AS p FROM ks4 "
    "GROUP BY fsm",
    "SELECT CASE WHEN age < 11 THEN 'primary' WHEN age < 16 THEN 'secondary' "
    "ELSE 'post-16' END AS phase, COUNT(*) FROM census GROUP BY 1 ORDER BY 1",
    "SELECT COUNT(*) FROM census WHERE term = 'it''s' AND name_len > .5",
    "SELECT COUNT(*) AS \"n \"\"quoted\"\"\" FROM census",
    "SELECT BAND(score, -10, 10, 2.5), COUNT(*) FROM ks4 GROUP BY 1",
    "SELECT fsm, COUNT(*) FROM ks4 GROUP BY fsm HAVING COUNT(*) > 10 AND "
    "AVG(attainment8) BETWEEN 20 AND 80 LIMIT 0",
    "SELECT COUNT(*) FROM ks4 WHERE x IN (1, -2, 3.25, NULL, TRUE, 'a')",
    "SELECT SUM(a - b - c), SUM(a - (b - c)), SUM(a / b * c), SUM(a / (b * "
    "c)) FROM t",
    "SELECT COUNT(*) FROM t WHERE NOT NOT a = 1 OR b = 2 AND c = 3",
    "SELECT COUNT(*) FROM t WHERE (a = 1 OR b = 2) AND (c = 3 OR d = 4)",
    "SELECT school_urn, COUNT(*) FROM ks4 k JOIN census c USING (pupil) GROUP "
    "BY school_urn ORDER BY COUNT(*) DESC LIMIT 100000",
    "SELECT COUNT(*) FROM ks4 WHERE score = - - 1",
    "SELECT COUNT(*) FROM ks4 WHERE -score < -(1 + 2)",
    "SELECT\tCOUNT(*)\r\nFROM\tks4\r\nWHERE\tcomment = 'multi\nline'",
    "SELECT COUNT(*) FROM ks4 WHERE name = 'caf\xc3\xa9' /* \xe2\x82\xac */",
    "SELECT COUNT(*) FROM ks4 WHERE a IS NULL AND b IS NOT NULL AND c = NULL",
    "SELECT COUNT(*) FROM ks4 WHERE 0012.500 < x AND x < 3.",
    "SELECT AVG(CASE WHEN a THEN 1 ELSE 0 END), COUNT(x) AS \"SELECT\" FROM t",
};

}  // namespace datalab::sql::testing

#endif  // DATALAB_SERVICES_QUERY_SQL_TEST_CORPUS_H_
