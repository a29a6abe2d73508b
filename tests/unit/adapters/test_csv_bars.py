"""Reading bars from the CSV files real tools export, and the errors for bad files."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from stom_desktop.adapters.csv_bars import read_bars_csv, read_bars_csv_with_report
from stom_desktop.core.bars import to_ms
from stom_desktop.core.errors import ConfigurationError, DataError

JAN2 = 1_704_153_600_000  # 2024-01-02T00:00:00Z
MINUTE = 60_000
HOUR = 3_600_000
DAY = 86_400_000


def utc_ms(*args: int) -> int:
    return to_ms(datetime(*args, tzinfo=UTC))  # type: ignore[misc]


def write(tmp_path: Path, text: str, name: str = "bars.csv", encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def data_error(path: Path, timeframe: str = "1m", **kwargs: str) -> DataError:
    with pytest.raises(DataError) as info:
        read_bars_csv(path, "SYM", timeframe, **kwargs)
    assert info.value.source == str(path)
    return info.value


# --------------------------------------------------------------------------- formats


def test_pandas_to_csv_with_tz_offsets_across_a_dst_change(tmp_path: Path) -> None:
    index = pd.date_range("2024-03-31 00:00", periods=4, freq="h", tz="Europe/Berlin")
    frame = pd.DataFrame(
        {
            "open": [1.0, 2.0, 3.0, 4.0],
            "high": [1.5, 2.5, 3.5, 4.5],
            "low": [0.5, 1.5, 2.5, 3.5],
            "close": [1.25, 2.25, 3.25, 4.25],
            "volume": [10.0, 20.0, 30.0, 40.0],
        },
        index=index.rename("datetime"),
    )
    path = tmp_path / "pandas.csv"
    frame.to_csv(path)
    assert "+01:00" in path.read_text() and "+02:00" in path.read_text()
    report = read_bars_csv_with_report(path, "EURUSD", "1h")
    bars = report.bars
    # 00:00+01:00 = 23:00Z on the 30th; clocks jump at 02:00 local, UTC stays hourly.
    start = utc_ms(2024, 3, 30, 23)
    assert bars.ts.tolist() == [start, start + HOUR, start + 2 * HOUR, start + 3 * HOUR]
    assert bars.close.tolist() == [1.25, 2.25, 3.25, 4.25]
    assert bars.volume.tolist() == [10.0, 20.0, 30.0, 40.0]
    assert report.warnings == ()
    assert report.time_format == "ISO8601"


def test_pandas_unnamed_naive_index_uses_tz_argument(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {"Open": [10.0, 11.0], "High": [12.0, 12.5], "Low": [9.5, 10.5], "Close": [11.0, 12.0]},
        index=pd.DatetimeIndex(["2024-01-02 09:00", "2024-01-02 09:01"]),
    )
    path = tmp_path / "naive.csv"
    frame.to_csv(path)
    assert path.read_text().startswith(",Open")
    report = read_bars_csv_with_report(path, "005930", "1m", tz="Asia/Seoul")
    assert report.bars.ts.tolist() == [JAN2, JAN2 + MINUTE]  # 09:00 KST = 00:00 UTC
    assert report.bars.volume.tolist() == [0.0, 0.0]
    assert report.warnings == ("no volume column: volume set to 0",)
    assert read_bars_csv(path, "X", "1m").ts.tolist() == [JAN2 + 9 * HOUR, JAN2 + 9 * HOUR + MINUTE]


def test_yahoo_finance_uses_close_not_adj_close(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "Date,Open,High,Low,Close,Adj Close,Volume\n"
        "2024-01-02,187.149994,188.440002,183.889999,185.639999,185.152283,82488700\n"
        "2024-01-03,184.220001,185.880005,183.429993,184.250000,183.765915,58414500\n",
    )
    bars = read_bars_csv(path, "AAPL", "1d")
    assert bars.ts.tolist() == [JAN2, JAN2 + DAY]
    assert bars.open.tolist() == [187.149994, 184.220001]
    assert bars.high.tolist() == [188.440002, 185.880005]
    assert bars.low.tolist() == [183.889999, 183.429993]
    assert bars.close.tolist() == [185.639999, 184.25]
    assert bars.volume.tolist() == [82488700.0, 58414500.0]
    assert bars.ts.dtype == np.int64 and bars.close.dtype == np.float64


def test_binance_kline_dump_without_header_ms_and_us(tmp_path: Path) -> None:
    rows = (
        "{t},42283.58000000,42554.57000000,42261.02000000,42475.23000000,1271.68108000,"
        "{e},53957248.97378900,47134,682.57581000,28957416.81959880,0\n"
        "{t2},42475.23000000,42775.00000000,42431.65000000,42613.56000000,1196.37856000,"
        "{e2},50997013.20160600,44336,607.61826000,25890767.43082740,0\n"
    )
    t = 1_704_067_200_000
    ms_path = write(tmp_path, rows.format(t=t, e=t + HOUR - 1, t2=t + HOUR, e2=t + 2 * HOUR - 1))
    us_path = write(
        tmp_path,
        rows.format(t=t * 1000, e=0, t2=(t + HOUR) * 1000, e2=0),
        name="us.csv",
    )
    for path, unit in ((ms_path, "epoch ms"), (us_path, "epoch µs")):
        report = read_bars_csv_with_report(path, "BTCUSDT", "1h")
        bars = report.bars
        assert report.header_line is None and report.time_format == unit
        assert bars.ts.tolist() == [t, t + HOUR]
        assert bars.open.tolist() == [42283.58, 42475.23]
        assert bars.high.tolist() == [42554.57, 42775.0]
        assert bars.low.tolist() == [42261.02, 42431.65]
        assert bars.close.tolist() == [42475.23, 42613.56]
        assert bars.volume.tolist() == [1271.68108, 1196.37856]


def test_ccxt_timestamp_ms_with_datetime_column(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "timestamp,datetime,open,high,low,close,volume\n"
        "1704153600000,2024-01-02T00:00:00.000Z,50000000,50100000,49900000,50050000,1.5\n"
        "1704153660000,2024-01-02T00:01:00.000Z,50050000,50060000,50000000,50010000,0.25\n",
    )
    bars = read_bars_csv(path, "KRW-BTC", "1m")
    assert bars.ts.tolist() == [JAN2, JAN2 + MINUTE]
    assert bars.close.tolist() == [50050000.0, 50010000.0]


def test_kiwoom_cp949_korean_minute_export(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "일자,시간,시가,고가,저가,종가,거래량\r\n"
        '20240102,0901,"78,200","78,500","78,100","78,400","1,234,567"\r\n'
        '20240102,0902,"78,400","78,600","78,300","78,500","987,654"\r\n',
        encoding="cp949",
    )
    report = read_bars_csv_with_report(path, "005930", "1m", tz="Asia/Seoul")
    bars = report.bars
    assert report.encoding == "cp949"
    assert report.columns["date"] == "일자" and report.columns["time_of_day"] == "시간"
    assert bars.ts.tolist() == [JAN2 + MINUTE, JAN2 + 2 * MINUTE]  # 09:01 KST = 00:01Z
    assert bars.open.tolist() == [78200.0, 78400.0]
    assert bars.high.tolist() == [78500.0, 78600.0]
    assert bars.low.tolist() == [78100.0, 78300.0]
    assert bars.close.tolist() == [78400.0, 78500.0]
    assert bars.volume.tolist() == [1234567.0, 987654.0]


def test_kiwoom_daily_newest_first_is_reversed(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "일자\t시가\t고가\t저가\t현재가\t거래량\n"
        "2024/01/04\t76100\t77300\t76000\t77000\t15324439\n"
        "2024/01/03\t77000\t77500\t76400\t76600\t21753644\n"
        "2024/01/02\t78200\t79800\t78200\t79600\t17142847\n",
        encoding="cp949",
    )
    report = read_bars_csv_with_report(path, "005930", "1d", tz="Asia/Seoul")
    bars = report.bars
    assert report.reversed
    assert "reversed" in report.warnings[0]
    day0 = JAN2 - 9 * HOUR  # 2024-01-02 00:00 KST
    assert bars.ts.tolist() == [day0, day0 + DAY, day0 + 2 * DAY]
    assert bars.close.tolist() == [79600.0, 76600.0, 77000.0]
    assert bars.volume.tolist() == [17142847.0, 21753644.0, 15324439.0]
    assert bars.ts.flags["C_CONTIGUOUS"] and bars.close.flags["C_CONTIGUOUS"]


def test_kiwoom_14_digit_execution_time(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "체결시간,시가,고가,저가,현재가,거래량\n"
        "20240102090100,100,110,90,105,7\n"
        "20240102090200,105,106,104,104,8\n",
    )
    bars = read_bars_csv(path, "A", "1m", tz="Asia/Seoul")
    assert bars.ts.tolist() == [JAN2 + MINUTE, JAN2 + 2 * MINUTE]


def test_metatrader_tab_separated_prefers_tick_volume_when_volume_is_zero(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "<DATE>\t<TIME>\t<OPEN>\t<HIGH>\t<LOW>\t<CLOSE>\t<TICKVOL>\t<VOL>\t<SPREAD>\n"
        "2024.01.02\t00:00:00\t1.10427\t1.10443\t1.10402\t1.10420\t123\t0\t5\n"
        "2024.01.02\t00:01:00\t1.10420\t1.10431\t1.10415\t1.10418\t98\t0\t5\n",
    )
    report = read_bars_csv_with_report(path, "EURUSD", "1m")
    bars = report.bars
    assert report.delimiter == "\t"
    assert bars.ts.tolist() == [JAN2, JAN2 + MINUTE]
    assert bars.open.tolist() == [1.10427, 1.1042]
    assert bars.close.tolist() == [1.1042, 1.10418]
    assert bars.volume.tolist() == [123.0, 98.0]
    assert any("tick volume" in w for w in report.warnings)


def test_metatrader_history_export_without_header(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "2024.01.02,00:00,1.10427,1.10443,1.10402,1.10420,123\n"
        "2024.01.02,00:01,1.10420,1.10431,1.10415,1.10418,98\n",
    )
    report = read_bars_csv_with_report(path, "EURUSD", "1m")
    assert report.header_line is None
    assert report.bars.ts.tolist() == [JAN2, JAN2 + MINUTE]
    assert report.bars.volume.tolist() == [123.0, 98.0]


def test_european_semicolon_decimal_comma_with_bom_and_sep_line(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "sep=;\r\n"
        "Date;Open;High;Low;Close;Volume\r\n"
        "02.01.2024;1.234,50;1.240,00;1.230,25;1.238,75;12.345\r\n"
        "03.01.2024;1.238,75;1.245,5;1.235;1.244,1;9.876\r\n",
        encoding="utf-8-sig",
    )
    report = read_bars_csv_with_report(path, "DAX", "1d")
    bars = report.bars
    assert (report.delimiter, report.decimal, report.header_line) == (";", ",", 2)
    assert bars.ts.tolist() == [JAN2, JAN2 + DAY]  # dd.mm.yyyy is day-first
    assert bars.open.tolist() == [1234.5, 1238.75]
    assert bars.high.tolist() == [1240.0, 1245.5]
    assert bars.low.tolist() == [1230.25, 1235.0]
    assert bars.close.tolist() == [1238.75, 1244.1]
    assert bars.volume.tolist() == [12345.0, 9876.0]


def test_tradingview_unix_seconds(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "time,open,high,low,close,Volume\n1704153600,10,11,9,10.5,100\n1704157200,10.5,12,10,11,50\n",
    )
    report = read_bars_csv_with_report(path, "X", "1h", tz="America/New_York")
    assert report.time_format == "epoch s"
    assert report.bars.ts.tolist() == [JAN2, JAN2 + HOUR]  # epoch numbers ignore tz


def test_excel_bom_quoted_thousands_and_us_slash_dates(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        'Date,Open,High,Low,Close,Volume\n1/2/2024,"1,000.5","1,010","990","1,005.25","1,234,567"\n'
        '1/3/2024,"1,005.25","1,020","1,000","1,015","2,000"\n',
        encoding="utf-8-sig",
    )
    report = read_bars_csv_with_report(path, "X", "1d")
    assert report.encoding == "utf-8-sig"
    assert report.bars.ts.tolist() == [JAN2, JAN2 + DAY]  # month-first
    assert report.bars.open.tolist() == [1000.5, 1005.25]
    assert report.bars.volume.tolist() == [1234567.0, 2000.0]


def test_slash_dates_with_a_day_above_12_are_day_first(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "Date,Open,High,Low,Close\n12/01/2024,1,2,0.5,1.5\n13/01/2024,1,2,0.5,1.5\n",
    )
    bars = read_bars_csv(path, "X", "1d")
    assert bars.ts.tolist() == [utc_ms(2024, 1, 12), utc_ms(2024, 1, 13)]


def test_cryptodatadownload_preamble_and_newest_first(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "https://www.CryptoDataDownload.com\n"
        "unix,date,symbol,open,high,low,close,Volume BTC,Volume USDT,tradecount\n"
        "1704157200000,2024-01-02 01:00:00,BTC/USDT,45100,45200,45000,45150,12.5,563000,900\n"
        "1704153600000,2024-01-02 00:00:00,BTC/USDT,45000,45120,44900,45100,10.25,462000,800\n",
    )
    report = read_bars_csv_with_report(path, "BTCUSDT", "1h")
    assert report.header_line == 2 and report.reversed
    assert report.columns["time"] == "unix" and report.columns["volume"] == "Volume BTC"
    assert report.bars.ts.tolist() == [JAN2, JAN2 + HOUR]
    assert report.bars.volume.tolist() == [10.25, 12.5]


def test_utf16_unicode_text_from_excel(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "\ufeffDate\tOpen\tHigh\tLow\tClose\tVolume\r\n2024-01-02\t1\t2\t0.5\t1.5\t10\r\n",
        encoding="utf-16-le",
    )
    report = read_bars_csv_with_report(path, "X", "1d")
    assert report.encoding == "utf-16"
    assert report.bars.ts.tolist() == [JAN2] and report.bars.close.tolist() == [1.5]


def test_kiwoom_style_preamble_blank_lines_and_spaces(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "삼성전자 (005930) 분봉\n\n일자, 시간, 시가, 고가, 저가, 종가, 거래량\n\n"
        "2024.01.02, 09:01:00, 100, 101, 99, 100.5, 10\n   \n"
        "2024.01.02, 09:02:00, 100.5, 102, 100, 101, 20\n\n",
    )
    report = read_bars_csv_with_report(path, "005930", "1m", tz="Asia/Seoul")
    assert (report.header_line, report.first_data_line) == (3, 4)
    assert report.bars.ts.tolist() == [JAN2 + MINUTE, JAN2 + 2 * MINUTE]


def test_path_as_string_and_single_row(tmp_path: Path) -> None:
    path = write(tmp_path, "date,o,h,l,c,v\n2024-01-02T00:00:00Z,1,1,1,1,0\n")
    bars = read_bars_csv(str(path), "X", "1d")
    assert len(bars) == 1 and bars.ts.tolist() == [JAN2]
    bars.validate()


# --------------------------------------------------------------------------- errors


def test_file_not_found_empty_binary_and_excel(tmp_path: Path) -> None:
    missing = tmp_path / "nope.csv"
    assert "file not found" in str(data_error(missing))
    assert "empty" in str(data_error(write(tmp_path, "", name="empty.csv")))
    assert "empty" in str(data_error(write(tmp_path, "\n \n\n", name="blank.csv")))
    binary = tmp_path / "bin.csv"
    binary.write_bytes(b"Date,Open\n\x00\x01\x02")
    error = data_error(binary)
    assert "binary" in str(error) and error.line == 2
    xlsx = tmp_path / "book.csv"
    xlsx.write_bytes(b"PK\x03\x04rest-of-zip")
    assert "Excel" in str(data_error(xlsx))
    assert "folder" in str(data_error(tmp_path))


def test_text_that_is_not_a_bar_csv(tmp_path: Path) -> None:
    error = data_error(write(tmp_path, "hello world\nthis is a note\n"))
    assert "not a CSV file of bars" in str(error)


def test_missing_column_names_it_and_lists_columns_found(tmp_path: Path) -> None:
    path = write(tmp_path, "exported by X\n\nDate,Open,Low,Close,Volume\n2024-01-02,1,1,1,1\n")
    error = data_error(path)
    assert error.line == 3
    assert "missing required column 'high'" in str(error)
    assert "columns found: 'Date', 'Open', 'Low', 'Close', 'Volume'" in str(error)


def test_missing_time_column(tmp_path: Path) -> None:
    error = data_error(write(tmp_path, "when,open,high,low,close\nx,1,1,1,1\n"))
    assert error.line == 1 and "missing required column 'time'" in str(error)


def test_header_without_rows(tmp_path: Path) -> None:
    error = data_error(write(tmp_path, "Date,Open,High,Low,Close\n\n"))
    assert error.line == 1 and "no data rows" in str(error)


HEADER = "Date,Open,High,Low,Close,Volume\n"


@pytest.mark.parametrize(
    ("rows", "line", "needle"),
    [
        # Line numbers count the header (line 1) and every blank line.
        (
            "2024-01-02,1,2,0.5,1,10\n2024-13-45,1,2,0.5,1,10\n",
            3,
            "unparsable date/time '2024-13-45'",
        ),
        ("2024-01-02,1,2,0.5,1,10\n\n\n2024-01-02,1,2,0.5,1,10\n", 5, "duplicate timestamp"),
        (
            "2024-01-02,1,2,0.5,1,10\n2024-01-03,1,2,0.5,1,10\n2024-01-01,1,2,0.5,1,10\n",
            4,
            "non-increasing timestamp",
        ),
        (
            "2024-01-02,1,2,0.5,1,10\n \n2024-01-03,1,2,0.5,,10\n",
            4,
            "empty or NaN cell in column 'Close'",
        ),
        (
            "2024-01-02,1,2,0.5,1,10\n2024-01-03,NaN,2,0.5,1,10\n",
            3,
            "empty or NaN cell in column 'Open'",
        ),
        ("2024-01-02,1,2,0.5,1,10\n2024-01-03,1,0.4,0.5,0.45,10\n", 3, "high 0.4 is below low 0.5"),
        ("2024-01-02,1,2,-0.5,1,10\n", 2, "negative price -0.5 in column 'Low'"),
        (
            "2024-01-02,1,2,0.5,1,10\n\n2024-01-03,1,2,0.5,1,-3\n",
            4,
            "negative volume -3.0 in column 'Volume'",
        ),
        (
            "2024-01-02,1,2,0.5,1,10\n2024-01-03,1,2,0.5,abc,10\n",
            3,
            "non-numeric value 'abc' in column 'Close'",
        ),
        (
            "2024-01-02,1,2,0.5,1,10\n2024-01-03,1,2,0.5,1,10,7,8\n",
            3,
            "malformed CSV row: 8 fields where the first data row has 6",
        ),
        ("2024-01-02,0,2,0.5,1,10\n", 2, "zero price 0.0 in column 'Open'"),
        ("2024-01-02,3,2,0.5,1,10\n", 2, "open 3.0 is outside the bar's low..high"),
        ("2024-01-02,1,2,0.5,inf,10\n", 2, "not finite"),
        (",1,2,0.5,1,10\n", 2, "empty date/time cell in column 'Date'"),
    ],
)
def test_bad_rows_name_the_file_line_and_problem(
    tmp_path: Path, rows: str, line: int, needle: str
) -> None:
    error = data_error(write(tmp_path, HEADER + rows))
    assert error.line == line, str(error)
    assert needle in str(error)
    assert f"bars.csv:{line}:" in str(error)


def test_line_numbers_with_preamble_and_blank_lines(tmp_path: Path) -> None:
    text = "Report\n\n\nDate,Open,High,Low,Close\n\n" + "".join(
        f"2024-01-{d:02d},1,2,0.5,1\n" + ("\n" if d % 2 else "") for d in range(1, 9)
    )
    text += "2024-01-09,1,2,0.5,oops\n"
    error = data_error(write(tmp_path, text))
    # 5 lines before data; 8 rows plus 4 blank lines after the odd ones -> row 9 on line 18.
    assert error.line == 18 and "'oops'" in str(error)


def test_line_numbers_in_a_crlf_cp949_file(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "종목: 삼성전자\r\n일자,시가,고가,저가,종가\r\n"
        "20240102,1,2,0.5,1\r\n\r\n20240103,1,0.1,0.5,1\r\n",
        encoding="cp949",
    )
    error = data_error(path, timeframe="1d")
    assert error.line == 5 and "below low" in str(error)


def test_headerless_file_error_lines(tmp_path: Path) -> None:
    path = write(tmp_path, "1704153600000,1,2,0.5,1,1\n1704153600000,1,2,0.5,1,1\n")
    error = data_error(path)
    assert error.line == 2 and "duplicate" in str(error) and "column" not in str(error)
    path = write(tmp_path, "1704153600000,1,2,0.5,1,1\n1704153660000,1,2,0.5,x,1\n", "b.csv")
    assert "column 5 (close)" in str(data_error(path))


def test_descending_file_that_turns_up_is_an_error(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        HEADER + "2024-01-05,1,2,0.5,1,1\n2024-01-04,1,2,0.5,1,1\n2024-01-06,1,2,0.5,1,1\n",
    )
    error = data_error(path, timeframe="1d")
    assert error.line == 4 and "not strictly descending" in str(error)


def test_unparsable_time_of_day_and_bad_digit_date(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "일자,시간,시가,고가,저가,종가\n20240102,0901,1,2,0.5,1\n20240102,0961,1,2,0.5,1\n",
    )
    error = data_error(path)
    assert error.line == 3 and "'0961'" in str(error)
    path = write(
        tmp_path, "일자,시가,고가,저가,종가\n20240102,1,2,0.5,1\n20241302,1,2,0.5,1\n", "d.csv"
    )
    error = data_error(path, timeframe="1d")
    assert error.line == 3 and "'20241302'" in str(error)


def test_excel_serial_dates_are_refused(tmp_path: Path) -> None:
    error = data_error(write(tmp_path, "Date,Open,High,Low,Close\n45293,1,2,0.5,1\n"))
    assert error.line == 2 and "Excel" in str(error)


def test_nonexistent_local_time_in_tz(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "Date,Open,High,Low,Close\n2024-03-10 01:30,1,2,0.5,1\n2024-03-10 02:30,1,2,0.5,1\n",
    )
    error = data_error(path, tz="America/New_York")
    assert error.line == 3 and "daylight-saving" in str(error)


def test_undecodable_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(b"Date,Open,High,Low,Close\n2024-01-02,1,2,0.5,1\n\x80\xff\n")
    error = data_error(path)
    assert error.line == 3 and "UTF-8 or CP949" in str(error)


def test_bad_arguments_are_configuration_errors(tmp_path: Path) -> None:
    path = write(tmp_path, HEADER + "2024-01-02,1,2,0.5,1,10\n")
    with pytest.raises(ConfigurationError, match="timeframe"):
        read_bars_csv(path, "X", "1 minute")
    with pytest.raises(ConfigurationError, match="tz"):
        read_bars_csv(path, "X", "1m", tz="Mars/Olympus")
    with pytest.raises(ConfigurationError, match="symbol"):
        read_bars_csv(path, " ", "1m")


def test_timeframe_mismatch_is_a_warning(tmp_path: Path) -> None:
    path = write(tmp_path, HEADER + "2024-01-02 00:00,1,2,0.5,1,1\n2024-01-02 00:01,1,2,0.5,1,1\n")
    report = read_bars_csv_with_report(path, "X", "1d")
    assert report.warnings == (
        "1 of 1 bar intervals are shorter than the timeframe '1d': is the timeframe right?",
    )


def test_round_trip_of_a_large_generated_file(tmp_path: Path) -> None:
    """Exact float round trip through text for many rows (pandas' parser, not ours)."""
    rng = np.random.default_rng(7)
    n = 20_000
    close = np.round(100 * np.exp(np.cumsum(rng.normal(0, 0.001, n))), 6)
    ts = JAN2 + np.arange(n, dtype=np.int64) * MINUTE
    frame = pd.DataFrame(
        {
            "timestamp": ts,
            "open": close,
            "high": close + 0.5,
            "low": close - 0.5,
            "close": close,
            "volume": rng.integers(0, 1000, n),
        }
    )
    path = tmp_path / "big.csv"
    frame.to_csv(path, index=False)
    bars = read_bars_csv(path, "X", "1m")
    assert np.array_equal(bars.ts, ts)
    assert np.array_equal(bars.close, close)
    assert np.array_equal(bars.high, close + 0.5)


def test_dukascopy_gmt_time_with_milliseconds(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "Gmt time,Open,High,Low,Close,Volume\n"
        "02.01.2024 00:00:00.000,1.10427,1.10443,1.10402,1.1042,1234.56\n"
        "02.01.2024 00:01:00.000,1.1042,1.10431,1.10415,1.10418,987.1\n",
    )
    assert read_bars_csv(path, "EURUSD", "1m").ts.tolist() == [JAN2, JAN2 + MINUTE]


def test_single_letter_headers_and_float_epoch_seconds(tmp_path: Path) -> None:
    path = write(tmp_path, "t,o,h,l,c,v\n1704153600.0,1,2,0.5,1,3\n1704153600.5,1,2,0.5,1,3\n")
    assert read_bars_csv(path, "X", "1s").ts.tolist() == [JAN2, JAN2 + 500]


def test_errors_in_a_descending_file_use_file_lines(tmp_path: Path) -> None:
    path = write(tmp_path, HEADER + "2024-01-05,1,2,0.5,1,1\n\n2024-01-04,1,2,0.5,,1\n")
    error = data_error(path, timeframe="1d")
    assert error.line == 4 and "'Close'" in str(error)


def test_korean_text_after_the_first_quarter_megabyte_falls_back_to_cp949(
    tmp_path: Path,
) -> None:
    # Minutes of 2024-01-02 then 2024-01-03: 1,440 rows x ~45 bytes ~ 64 KB per day.
    rows = "".join(
        f"2024-01-{day:02d} {m // 60:02d}:{m % 60:02d}:00,100,110,90,105,{m},메모\n"
        for day in range(2, 9)
        for m in range(1440)
    )
    text = "Date,Open,High,Low,Close,Volume,비고\n" + rows
    path = write(tmp_path, text, encoding="cp949")
    assert path.stat().st_size > 300_000
    report = read_bars_csv_with_report(path, "X", "1m")
    assert report.encoding == "cp949"
    assert len(report.bars) == 7 * 1440 and report.bars.ts[0] == JAN2


def test_error_line_far_beyond_the_decoded_head(tmp_path: Path) -> None:
    rows = [
        f"2024-01-{2 + m // 1440:02d} {m // 60 % 24:02d}:{m % 60:02d}:00,100,110,90,105,{m}\n"
        for m in range(9000)
    ]
    rows.insert(4000, "\n\n")  # two blank lines between row 4000 and 4001
    rows[8000] = rows[8000].replace(",105,", ",1O5,")  # letter O: a typo
    path = write(tmp_path, HEADER + "".join(rows))
    assert path.stat().st_size > 300_000
    error = data_error(path)
    # Row 8000 (0-based) is file line 1 (header) + 8000 + 2 blank lines + 1.
    assert error.line == 8003 and "'1O5'" in str(error)


def test_separators_count_only_between_groups_of_three(tmp_path: Path) -> None:
    # A quoted decimal comma in a comma-separated file is ambiguous: refused, not read as 15.
    path = write(tmp_path, 'Date,Open,High,Low,Close\n2024-01-02,1,2,0.5,"1,5"\n')
    error = data_error(path, timeframe="1d")
    assert error.line == 2 and "non-numeric value '1,5' in column 'Close'" in str(error)
    # In a decimal-comma file a '.' must group thousands: "1.5" is refused, not read as 15.
    path = write(tmp_path, "Date;Open;High;Low;Close\n02.01.2024;1,5;2;0,5;1.5\n", "eu.csv")
    error = data_error(path, timeframe="1d")
    assert error.line == 2 and "'1.5'" in str(error)
    # Grouped values with spaces (French style) and dots both read right.
    path = write(
        tmp_path, "Date;Open;High;Low;Close\n02.01.2024;1 234,5;1.300,25;1000;1200\n", "fr.csv"
    )
    bars = read_bars_csv(path, "X", "1d")
    assert (bars.open[0], bars.high[0], bars.low[0], bars.close[0]) == (1234.5, 1300.25, 1000, 1200)


def test_arrays_are_owned_and_writeable(tmp_path: Path) -> None:
    path = write(tmp_path, HEADER + "2024-01-02,1,2,0.5,1,10\n")
    bars = read_bars_csv(path, "X", "1d")
    for name in ("ts", "open", "high", "low", "close", "volume"):
        array = getattr(bars, name)
        assert array.flags["WRITEABLE"] and array.flags["C_CONTIGUOUS"], name
