SELECT COUNT(*) /* c */ FROM t -- d
