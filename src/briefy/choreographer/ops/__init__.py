"""Operations: metrics, health checks, their HTTP endpoint, several worker processes."""
