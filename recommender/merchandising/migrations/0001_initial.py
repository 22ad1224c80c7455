import django.core.validators
import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('catalog', '0005_field_validators'),
    ]

    operations = [
        migrations.CreateModel(
            name='MerchandisingRule',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('name', models.CharField(help_text='Shown in each touched result\'s scores.rules.', max_length=100, unique=True)),
                ('kind', models.CharField(choices=[('bury_out_of_stock', 'Bury out-of-stock products (amount < 0)'), ('boost_new_arrivals', 'Boost products created in the last N days'), ('boost_field', 'Boost (or, with amount < 0, bury) a brand, category or attribute value'), ('exclude_category_from_similar', "Keep a category out of 'more like this' of another")], max_length=40)),
                ('enabled', models.BooleanField(default=True)),
                ('amount', models.FloatField(default=0.0, help_text='Score rules: added to a matching result\'s combined score (-1 to 1; below 0 buries).', validators=[django.core.validators.MinValueValidator(-1.0), django.core.validators.MaxValueValidator(1.0)])),
                ('days', models.PositiveIntegerField(blank=True, help_text='New arrivals: created this many days ago.', null=True)),
                ('field', models.CharField(blank=True, help_text='Boost a field: brand, category (its slug as the value) or attr.<name>.', max_length=80)),
                ('value', models.CharField(blank=True, max_length=200)),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('updated_at', models.DateTimeField(auto_now=True)),
                ('excluded_category', models.ForeignKey(blank=True, help_text="… 'more like this' never shows products of this one.", null=True, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='catalog.category')),
                ('source_category', models.ForeignKey(blank=True, help_text='Exclusion: on the pages of products of this category …', null=True, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='catalog.category')),
            ],
            options={
                'ordering': ['name'],
                'constraints': [models.CheckConstraint(condition=models.Q(('amount__gte', -1.0), ('amount__lte', 1.0)), name='rule_amount_bounded')],
            },
        ),
    ]
