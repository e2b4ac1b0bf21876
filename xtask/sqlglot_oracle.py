"""The SQL oracle for Warden's generated scripts: sqlglot (from PyPI, in the project's
virtualenv) reads every script in its dialect and checks it.

Input: a JSON file, a list of cases {"name", "dialect", "sql", "statements", "identifiers"}.
Output (stdout): a JSON object {name: problem} for every case that fails; {} when all pass.

For each script:
- sqlglot's tokenizer splits it at top-level semicolons (a semicolon inside a quoted name,
  a string or a $$ block is not one); the number of statements must be "statements";
- every statement must parse: the whole script with sqlglot.parse, whose statement count
  must agree, except for T-SQL, where sqlglot's parser lets an IF swallow the statements
  after it, so each T-SQL statement is parsed on its own;
- every name in "identifiers" must come back from the tokenizer as one quoted identifier
  with exactly that text (for T-SQL also inside the strings run by EXEC).
"""

import json
import logging
import sys

import sqlglot
from sqlglot.tokens import TokenType

logging.disable(logging.CRITICAL)  # sqlglot warns when it falls back to a raw Command

STRING_TYPES = {TokenType.STRING, TokenType.NATIONAL_STRING}


def statements(tokens):
    groups, current = [], []
    for token in tokens:
        if token.token_type == TokenType.SEMICOLON:
            if current:
                groups.append(current)
            current = []
        else:
            current.append(token)
    if current:
        groups.append(current)
    return groups


def identifiers(tokens, dialect, depth=0):
    found = set()
    for token in tokens:
        if token.token_type == TokenType.IDENTIFIER:
            found.add(token.text)
        elif dialect == "tsql" and depth < 2 and token.token_type in STRING_TYPES and "[" in token.text:
            try:
                found |= identifiers(sqlglot.tokenize(token.text, read=dialect), dialect, depth + 1)
            except Exception:  # a string that is not SQL
                pass
    return found


def check(case):
    dialect, sql = case["dialect"], case["sql"]
    try:
        tokens = sqlglot.tokenize(sql, read=dialect)
    except Exception as error:
        return f"does not tokenize: {error}"
    groups = statements(tokens)
    if len(groups) != case["statements"]:
        return f"{len(groups)} statements, expected {case['statements']}"
    try:
        if dialect == "tsql":
            for group in groups:
                text = sql[group[0].start : group[-1].end + 1]
                sqlglot.parse_one(text, read=dialect)
        else:
            parsed = [tree for tree in sqlglot.parse(sql, read=dialect) if tree is not None]
            if len(parsed) != case["statements"]:
                return f"sqlglot.parse found {len(parsed)} statements, expected {case['statements']}"
    except Exception as error:
        return f"does not parse: {str(error)[:300]}"
    missing = [name for name in case["identifiers"] if name not in identifiers(tokens, dialect)]
    if missing:
        return f"names not found as one quoted identifier each: {missing}"
    return None


def main():
    with open(sys.argv[1], encoding="utf-8") as handle:
        cases = json.load(handle)
    failures = {}
    for case in cases:
        problem = check(case)
        if problem:
            failures[case["name"]] = problem
    json.dump(failures, sys.stdout, indent=1)


if __name__ == "__main__":
    main()
