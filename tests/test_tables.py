import pandas as pd
import pytest

from data.config import DataConfig
from data.errors import DataError
from data.prepare import prepare_data
from data.tables import label_names, read_table


def test_csv_with_string_labels_and_malformed_rows(tmp_path, capsys):
    f = tmp_path / "d.csv"
    f.write_text('text,label\n"good, text",pos\nbad row only\n"",neg\nfine,neg\nno label,\n')
    table = read_table(f, "text", "label")
    assert table.texts == ["good, text", "fine"] and table.labels == ["pos", "neg"]
    assert table.problems == [
        f"{f}:3: 1 fields, expected 2",
        f"{f}:4: empty text",
        f"{f}:6: missing label",
    ]
    assert f"{f}:3" in capsys.readouterr().err


def test_tsv_and_parquet(tmp_path):
    (tmp_path / "d.tsv").write_text("label\tbody\n1\thello there\n2\tbye\n")
    assert read_table(tmp_path / "d.tsv", "body", "label").labels == ["1", "2"]
    pd.DataFrame({"body": ["a b", None, "c"], "y": [3, 1, 2]}).to_parquet(tmp_path / "d.parquet")
    table = read_table(tmp_path / "d.parquet", "body", "y")
    assert table.texts == ["a b", "c"] and table.labels == ["3", "2"] and len(table.problems) == 1


def test_missing_column_names_the_flag(tmp_path):
    (tmp_path / "d.csv").write_text("a,b\nx,y\n")
    with pytest.raises(DataError, match="--text-column"):
        read_table(tmp_path / "d.csv", "text", "b")


def test_label_order_is_numeric_for_integers():
    assert label_names(["10", "2"], ["1"]) == ["1", "2", "10"]
    assert label_names(["spam", "ham"]) == ["ham", "spam"]


def test_prepare_own_file_carves_stratified_test(tmp_path):
    rows = [f"word{i % 7} thing{i % 3},{'pos' if i % 3 else 'neg'}" for i in range(300)]
    (tmp_path / "d.csv").write_text("text,label\n" + "\n".join(rows) + "\n")
    data = prepare_data(
        DataConfig(dataset="files", train_file=str(tmp_path / "d.csv"), test_fraction=0.2)
    )
    assert data.class_names == ("neg", "pos")
    assert len(data.test) == 60 and len(data.train) + len(data.val) == 240
    assert abs((data.test.labels == 0).mean() - 1 / 3) < 0.02
